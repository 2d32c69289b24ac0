rule figure_toy2d:
    output:
        png=report(
            f"{R}/figures/toy2d.png", caption="../report/toy2d.rst", category="Figures"
        ),
        pdf=f"{R}/figures/toy2d.pdf",
        summary=f"{R}/figures/toy2d.json",
    log:
        f"{LOGS}/figure_toy2d/toy2d.log",
    benchmark:
        f"{BENCH}/figure_toy2d/toy2d.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        settings=config["figures"]["toy2d"],
    script:
        "../workflow_scripts/figure_toy2d.py"


rule figure_two_digits:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
    output:
        png=report(
            f"{R}/figures/{{dataset}}_two_digits.png",
            caption="../report/two_digits.rst",
            category="Figures",
        ),
        pdf=f"{R}/figures/{{dataset}}_two_digits.pdf",
    log:
        f"{LOGS}/figure_two_digits/{{dataset}}.log",
    benchmark:
        f"{BENCH}/figure_two_digits/{{dataset}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: res("train", "threads", 1)
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu", 0),
    params:
        settings=config["figures"]["two_digits"],
        seed=config["seeds"][0],
        checkpoint=f"{R}/figures/{{dataset}}_two_digits.ckpt",
    script:
        "../workflow_scripts/figure_two_digits.py"


rule figure_nearest:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        samples=nearest_sample_files,
    output:
        nearest_png=report(
            f"{R}/figures/{{dataset}}_nearest.png",
            caption="../report/nearest.rst",
            category="Figures",
        ),
        nearest_pdf=f"{R}/figures/{{dataset}}_nearest.pdf",
        components_png=report(
            f"{R}/figures/{{dataset}}_iml_by_component.png",
            caption="../report/iml_by_component.rst",
            category="Figures",
        ),
        components_pdf=f"{R}/figures/{{dataset}}_iml_by_component.pdf",
    log:
        f"{LOGS}/figure_nearest/{{dataset}}.log",
    benchmark:
        f"{BENCH}/figure_nearest/{{dataset}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        algorithms=lambda w: config[w.dataset]["algorithms"],
        settings=config["figures"]["nearest"],
    script:
        "../workflow_scripts/figure_nearest.py"


# The memorisation audit's figure: per algorithm (the which-base rows, or mnist.algorithms), its
# samples closest to a training image beside that image, at the which-base K and the first seed.
rule figure_memorisation:
    input:
        data=f"{R}/data/mnist/splits.json",
        samples=[
            f"{memorisation_run(a)}/samples.npz" for a in memorisation_algorithms()
        ],
        memorisation=[
            f"{memorisation_run(a)}/memorisation.json"
            for a in memorisation_algorithms()
        ],
    output:
        png=report(
            f"{R}/figures/mnist_memorisation.png",
            caption="../report/memorisation.rst",
            category="Figures",
        ),
        pdf=f"{R}/figures/mnist_memorisation.pdf",
    log:
        f"{LOGS}/figure_memorisation/mnist.log",
    benchmark:
        f"{BENCH}/figure_memorisation/mnist.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        labels=memorisation_algorithms(),
        n_pairs=config["figures"]["memorisation"]["n_pairs"],
    script:
        "../workflow_scripts/figure_memorisation.py"
