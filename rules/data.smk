localrules:
    download_mnist,


rule download_mnist:
    output:
        f"{DL}/mnist/{{file}}",
    log:
        f"{LOGS}/download_mnist/{{file}}.log",
    benchmark:
        f"{BENCH}/download_mnist/{{file}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("download", "mem_mb"),
        runtime=res("download", "runtime"),
    script:
        "../workflow_scripts/download_mnist.py"


rule preprocess_mnist:
    input:
        mnist_raw_files,
    output:
        splits=f"{R}/data/mnist/splits.npz",
        info=f"{R}/data/mnist/splits.json",
    log:
        f"{LOGS}/preprocess_mnist/preprocess.log",
    benchmark:
        f"{BENCH}/preprocess_mnist/preprocess.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("preprocess", "mem_mb"),
        runtime=res("preprocess", "runtime"),
    params:
        pool=config["data"]["mnist"]["pool"],
        sizes=config["data"]["mnist"]["sizes"],
        seed=config["data"]["mnist"]["split_seed"],
    script:
        "../workflow_scripts/preprocess_mnist.py"


rule preprocess_celeba:
    input:
        unpack(celeba_inputs),
    output:
        info=f"{R}/data/celeba/splits.json",
        train=f"{R}/data/celeba/train.npy",
        validation=f"{R}/data/celeba/validation.npy",
        test=f"{R}/data/celeba/test.npy",
        crops=f"{R}/data/celeba/crops.csv",
        no_face=f"{R}/data/celeba/no_face.txt",
        skipped=f"{R}/data/celeba/skipped.txt",
        details=f"{R}/data/celeba/info.json",
    log:
        f"{LOGS}/preprocess_celeba/celeba.log",
    benchmark:
        f"{BENCH}/preprocess_celeba/celeba.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("preprocess", "threads", 1)
    resources:
        mem_mb=res("preprocess", "mem_mb"),
        runtime=res("preprocess", "runtime"),
    params:
        settings=config["data"]["celeba"],
        seed=config["data"]["celeba"]["split_seed"],
    script:
        "../workflow_scripts/preprocess_celeba.py"
