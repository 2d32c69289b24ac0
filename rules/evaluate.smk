rule sample:
    input:
        model=model_file,
        base=f"{RUN}/base.npz",
    output:
        samples=f"{RUN}/samples.npz",
        grid=f"{RUN}/samples.png",
    log:
        f"{LOGS}/sample/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/sample/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        n_samples=config["evaluate"]["n_samples"],
        grid_images=config["evaluate"]["grid_images"],
    script:
        "../workflow_scripts/sample.py"


rule kde:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        samples=f"{RUN}/samples.npz",
    output:
        f"{RUN}/kde.json",
    log:
        f"{LOGS}/kde/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/kde/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        settings=config["evaluate"]["kde"],
    script:
        "../workflow_scripts/kde.py"


rule exact_likelihood:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
        base=f"{RUN}/base.npz",
    output:
        arrays=f"{RUN}/likelihood.npz",
        summary=f"{RUN}/likelihood.json",
    log:
        f"{LOGS}/exact_likelihood/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/exact_likelihood/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        n_test=config["evaluate"]["likelihood"]["n_test"],
    script:
        "../workflow_scripts/exact_likelihood.py"


rule train_classifier:
    input:
        data=f"{R}/data/mnist/splits.json",
    output:
        model=f"{R}/metrics/classifier.pt",
        summary=f"{R}/metrics/classifier.json",
    log:
        f"{LOGS}/train_classifier/classifier.log",
    benchmark:
        f"{BENCH}/train_classifier/classifier.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("train", "threads", 1)
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu", 0),
    params:
        settings=config["evaluate"]["classifier"],
    script:
        "../workflow_scripts/train_classifier.py"


rule sample_quality:
    input:
        data=f"{R}/data/mnist/splits.json",
        classifier=f"{R}/metrics/classifier.pt",
        classifier_summary=f"{R}/metrics/classifier.json",
        samples=f"{R}/mnist/{{algorithm}}/K{{k}}/seed{{seed}}/samples.npz",
    output:
        f"{R}/mnist/{{algorithm}}/K{{k}}/seed{{seed}}/quality.json",
    log:
        f"{LOGS}/sample_quality/mnist_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/sample_quality/mnist_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    script:
        "../workflow_scripts/sample_quality.py"


rule quality_references:
    input:
        data=f"{R}/data/mnist/splits.json",
        classifier=f"{R}/metrics/classifier.pt",
        classifier_summary=f"{R}/metrics/classifier.json",
    output:
        f"{R}/metrics/mnist_references.json",
    log:
        f"{LOGS}/quality_references/mnist.log",
    benchmark:
        f"{BENCH}/quality_references/mnist.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        seed=config["evaluate"]["classifier"]["seed"],
    script:
        "../workflow_scripts/quality_references.py"
