from iml.steps import aggregate, logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
aggregate.combined_table1(
    snakemake.params.datasets,
    snakemake.params.runs,
    snakemake.input.kde,
    [out.csv, out.md, out.tex],
    families=snakemake.params.families,
)
