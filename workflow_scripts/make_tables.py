from iml.steps import aggregate, logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
runs = aggregate.load_runs(
    snakemake.params.runs,
    snakemake.input.kde,
    dict(zip(map(aggregate.run_key, snakemake.params.likelihood_runs), snakemake.input.likelihood)),
    memorisation=snakemake.input.memorisation,
)
aggregate.make_tables(
    snakemake.wildcards.dataset,
    runs,
    by_k_paths=[out.by_k_csv, out.by_k_md, out.by_k_tex],
    table1_paths=[out.table1_csv, out.table1_md, out.table1_tex],
    base_notes=snakemake.params.base_notes,
    families=snakemake.params.families,
)
