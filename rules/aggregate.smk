rule make_tables:
    input:
        kde=lambda w: run_files(w.dataset, "kde.json"),
        likelihood=lambda w: run_files(w.dataset, "likelihood.json", only=INVERTIBLE),
        memorisation=lambda w: run_files(w.dataset, "memorisation.json"),
    output:
        by_k_csv=report(
            table_file("{dataset}", "kde_by_k", "csv"),
            caption="../report/kde_by_k.rst",
            category="Tables",
        ),
        by_k_md=table_file("{dataset}", "kde_by_k", "md"),
        by_k_tex=table_file("{dataset}", "kde_by_k", "tex"),
        table1_csv=report(
            table_file("{dataset}", "table1", "csv"),
            caption="../report/table1.rst",
            category="Tables",
        ),
        table1_md=table_file("{dataset}", "table1", "md"),
        table1_tex=table_file("{dataset}", "table1", "tex"),
    log:
        f"{LOGS}/make_tables/{{dataset}}.log",
    benchmark:
        f"{BENCH}/make_tables/{{dataset}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        runs=lambda w: runs(w.dataset),
        likelihood_runs=lambda w: likelihood_runs(w.dataset),
        base_notes=lambda w: base_notes(w.dataset),
        families=algorithm_families(),
    script:
        "../workflow_scripts/make_tables.py"


rule make_figures:
    input:
        kde=lambda w: run_files(w.dataset, "kde.json"),
        likelihood=lambda w: run_files(w.dataset, "likelihood.npz", only=INVERTIBLE),
    output:
        kde_vs_k_png=report(
            f"{R}/figures/{{dataset}}_kde_vs_k.png",
            caption="../report/kde_vs_k.rst",
            category="Figures",
        ),
        kde_vs_k_pdf=f"{R}/figures/{{dataset}}_kde_vs_k.pdf",
        exact_vs_base_png=report(
            f"{R}/figures/{{dataset}}_exact_vs_base.png",
            caption="../report/exact_vs_base.rst",
            category="Figures",
        ),
        exact_vs_base_pdf=f"{R}/figures/{{dataset}}_exact_vs_base.pdf",
    log:
        f"{LOGS}/make_figures/{{dataset}}.log",
    benchmark:
        f"{BENCH}/make_figures/{{dataset}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        runs=lambda w: runs(w.dataset),
        likelihood_runs=lambda w: likelihood_runs(w.dataset),
    script:
        "../workflow_scripts/make_figures.py"


rule table1:
    input:
        kde=[f for d in image_datasets() for f in run_files(d, "kde.json")],
    output:
        csv=report(
            f"{R}/tables/table1.csv", caption="../report/table1.rst", category="Tables"
        ),
        md=f"{R}/tables/table1.md",
        tex=f"{R}/tables/table1.tex",
    log:
        f"{LOGS}/table1/table1.log",
    benchmark:
        f"{BENCH}/table1/table1.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        datasets=image_datasets(),
        families=algorithm_families(),
        runs=[{**r, "dataset": d} for d in image_datasets() for r in runs(d)],
    script:
        "../workflow_scripts/table1.py"


rule tables:
    input:
        [f for d in image_datasets() for f in table_files(d)],
        [f"{R}/tables/table1.{ext}" for ext in ("csv", "md", "tex")],
        [f for f in audio_outputs() if "/tables/" in f],


rule figures:
    input:
        [
            f
            for d in image_datasets()
            for f in figure_files(d) + run_files(d, "samples.png")
        ],
        [f for f in audio_outputs() if "/figures/" in f],


rule which_base:
    input:
        kde=run_files("mnist", "kde.json", algorithms=which_base_algorithms()),
        likelihood=run_files(
            "mnist",
            "likelihood.json",
            only=INVERTIBLE,
            algorithms=which_base_algorithms(),
        ),
        quality=run_files("mnist", "quality.json", algorithms=which_base_algorithms()),
        base=run_files("mnist", "base.json", algorithms=which_base_algorithms()),
        memorisation=run_files(
            "mnist", "memorisation.json", algorithms=which_base_algorithms()
        ),
        references=f"{R}/{layout.references_file()}",
        samples=[f"{which_base_run(a)}/samples.npz" for a in config["mnist"]["bases"]],
    output:
        csv=report(
            table_file(layout.WHICH_BASE_DATASET, "which_base", "csv"),
            caption="../report/which_base.rst",
            category="Tables",
        ),
        md=table_file(layout.WHICH_BASE_DATASET, "which_base", "md"),
        tex=table_file(layout.WHICH_BASE_DATASET, "which_base", "tex"),
        by_k_csv=table_file(layout.WHICH_BASE_DATASET, "which_base_by_k", "csv"),
        by_k_md=table_file(layout.WHICH_BASE_DATASET, "which_base_by_k", "md"),
        by_k_tex=table_file(layout.WHICH_BASE_DATASET, "which_base_by_k", "tex"),
        png=report(
            f"{R}/figures/mnist_which_base.png",
            caption="../report/which_base_samples.rst",
            category="Figures",
        ),
        pdf=f"{R}/figures/mnist_which_base.pdf",
    log:
        f"{LOGS}/which_base/mnist.log",
    benchmark:
        f"{BENCH}/which_base/mnist.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        runs=runs("mnist", which_base_algorithms()),
        likelihood_runs=likelihood_runs("mnist", which_base_algorithms()),
        labels=[
            f"{config['algorithms'][a]['base']} ({a})"
            for a in config["mnist"]["bases"]
        ],
        n_images=config["figures"]["which_base"]["n_images"],
        dataset="mnist",
    script:
        "../workflow_scripts/which_base.py"
