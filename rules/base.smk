rule fit_base:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
    output:
        base=f"{RUN}/base.npz",
        summary=f"{RUN}/base.json",
    log:
        f"{LOGS}/fit_base/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/fit_base/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("base", "threads", 1)
    resources:
        mem_mb=res("base", "mem_mb"),
        runtime=res("base", "runtime"),
    params:
        name=base_name,
        settings=base_settings,
        run=fit_settings,
        # an audio base that chooses (the flow its epoch) holds out this fraction of the recordings
        validation_fraction=config["audio"]["frame_validation"],
    script:
        "../workflow_scripts/fit_base.py"
