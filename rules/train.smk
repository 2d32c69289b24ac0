rule train:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
    output:
        model=f"{RUN}/model.pt",
        loss_csv=f"{RUN}/loss.csv",
        loss_png=f"{RUN}/loss.png",
    log:
        f"{LOGS}/train/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{R}/{layout.train_benchmark()}"
    conda:
        "../envs/iml.yaml"
    threads: res("train", "threads", 1)
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu", 0),
    params:
        settings=algorithm_settings,
        checkpoint=f"{RUN}/train.ckpt",
    script:
        "../workflow_scripts/train.py"
