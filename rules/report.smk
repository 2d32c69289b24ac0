rule make_tables:
    input:
        kde=lambda w: run_files(w.dataset, "kde.json"),
        likelihood=lambda w: run_files(w.dataset, "likelihood.json", only=INVERTIBLE),
    output:
        by_k_csv=report(
            f"{R}/tables/{{dataset}}_kde_by_k.csv",
            caption="../report/kde_by_k.rst",
            category="Tables",
        ),
        by_k_md=f"{R}/tables/{{dataset}}_kde_by_k.md",
        by_k_tex=f"{R}/tables/{{dataset}}_kde_by_k.tex",
        table1_csv=report(
            f"{R}/tables/{{dataset}}_table1.csv",
            caption="../report/table1.rst",
            category="Tables",
        ),
        table1_md=f"{R}/tables/{{dataset}}_table1.md",
        table1_tex=f"{R}/tables/{{dataset}}_table1.tex",
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
        [f"{R}/tables/{d}_table1.csv" for d in image_datasets()],
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


rule audio_figures:
    input:
        data=f"{R}/data/{{dataset}}/splits.json",
        model=lambda w: f"{audio_run(w.dataset)}/model.pt",
        wav=lambda w: f"{audio_run(w.dataset)}/generated.wav",
    output:
        spectrogram_png=report(
            f"{R}/figures/{{dataset}}_spectrogram.png",
            caption="../report/spectrogram.rst",
            category="Audio",
        ),
        spectrogram_pdf=f"{R}/figures/{{dataset}}_spectrogram.pdf",
        reconstruction_png=report(
            f"{R}/figures/{{dataset}}_reconstruction.png",
            caption="../report/reconstruction.rst",
            category="Audio",
        ),
        reconstruction_pdf=f"{R}/figures/{{dataset}}_reconstruction.pdf",
    log:
        f"{LOGS}/audio_figures/{{dataset}}.log",
    benchmark:
        f"{BENCH}/audio_figures/{{dataset}}.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        seconds=10,
        hop=config["audio"]["chunk"]["hop"],
    script:
        "../workflow_scripts/audio_figures.py"


rule audio_table:
    input:
        scores=[f"{audio_run(d)}/audio_scores.json" for d in audio_datasets()],
        info=[f"{R}/data/{d}/splits.json" for d in audio_datasets()],
    output:
        csv=report(
            f"{R}/tables/audio.csv",
            caption="../report/audio_table.rst",
            category="Tables",
        ),
        md=f"{R}/tables/audio.md",
        tex=f"{R}/tables/audio.tex",
    log:
        f"{LOGS}/audio_table/audio.log",
    benchmark:
        f"{BENCH}/audio_table/audio.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        datasets=audio_datasets(),
    script:
        "../workflow_scripts/audio_table.py"
