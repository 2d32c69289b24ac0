# One job per run evaluates it: samples, the KDE scores, and where they apply the exact likelihood
# (Eq. 6) and the sample-quality metrics. They always run together and each costs a few seconds,
# so one process saves the start-up of three; a changed evaluation setting reruns this job alone,
# never training or the base's fit. Three rules, one per set of outputs, share the body.
rule evaluate:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
        base=f"{RUN}/base.npz",
    output:
        samples=f"{RUN_OTHER}/samples.npz",
        grid=f"{RUN_OTHER}/samples.png",
        kde=f"{RUN_OTHER}/kde.json",
        memorisation=f"{RUN_OTHER}/memorisation.json",
    log:
        f"{LOGS}/evaluate/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{dataset}}_{{algorithm}}_K{{k}}_seed{{seed}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
    params:
        n_samples=config["evaluate"]["n_samples"],
        grid_images=config["evaluate"]["grid_images"],
        kde=config["evaluate"]["kde"],
        n_test=config["evaluate"]["likelihood"]["n_test"],
        settings=run_settings,
        memorisation=config["evaluate"]["memorisation"],
        n_manifold=config["evaluate"]["likelihood"]["n_manifold"],
    script:
        "../workflow_scripts/evaluate.py"


use rule evaluate as evaluate_scored with:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
        base=f"{RUN}/base.npz",
        classifier=f"{R}/metrics/classifier.pt",
        classifier_summary=f"{R}/metrics/classifier.json",
    output:
        samples=f"{RUN_SCORED}/samples.npz",
        grid=f"{RUN_SCORED}/samples.png",
        kde=f"{RUN_SCORED}/kde.json",
        memorisation=f"{RUN_SCORED}/memorisation.json",
        quality=f"{RUN_SCORED}/quality.json",


use rule evaluate as evaluate_exact with:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=model_file,
        base=f"{RUN}/base.npz",
        classifier=f"{R}/metrics/classifier.pt",
        classifier_summary=f"{R}/metrics/classifier.json",
    output:
        samples=f"{RUN_EXACT}/samples.npz",
        grid=f"{RUN_EXACT}/samples.png",
        kde=f"{RUN_EXACT}/kde.json",
        memorisation=f"{RUN_EXACT}/memorisation.json",
        quality=f"{RUN_EXACT}/quality.json",
        likelihood_arrays=f"{RUN_EXACT}/likelihood.npz",
        likelihood=f"{RUN_EXACT}/likelihood.json",


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


rule quality_references:
    input:
        data=f"{R}/data/mnist/splits.json",
        classifier=f"{R}/metrics/classifier.pt",
        classifier_summary=f"{R}/metrics/classifier.json",
    output:
        f"{R}/{layout.references_file()}",
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
