from iml.steps import aggregate, logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
aggregate.audio_table(
    snakemake.params.runs,
    dict(zip(snakemake.params.datasets, snakemake.input.info)),
    table_paths=[out.csv, out.md, out.tex],
)
