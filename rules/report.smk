# The verdict: per claim of the paper (iml/claims.yaml), ours against the paper's number or
# statement, the criterion and PASS / FAIL / NOT RUN. It reads the run summaries the tables read,
# so it costs a second; a claim whose results this preset does not produce says NOT RUN and why.
rule verdict:
    input:
        kde=[f for d in image_datasets() for f in run_files(d, "kde.json")],
        likelihood=[
            f
            for d in image_datasets()
            for f in run_files(d, "likelihood.json", only=INVERTIBLE)
        ],
        tables=[
            f for d in image_datasets() for f in table_files(d) if f.endswith(".csv")
        ],
        toy2d=f"{R}/figures/toy2d.json",
        audio=[f for f in audio_outputs() if f.endswith(".csv")],
    output:
        md=report(
            f"{R}/verdict.md", caption="../report/verdict.rst", category="Verdict"
        ),
        csv=f"{R}/verdict.csv",
    log:
        f"{LOGS}/verdict/verdict.log",
    benchmark:
        f"{BENCH}/verdict/verdict.tsv"
    conda:
        "../envs/iml.yaml"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
    params:
        runs=[{**r, "dataset": d} for d in image_datasets() for r in runs(d)],
    script:
        "../workflow_scripts/verdict.py"
