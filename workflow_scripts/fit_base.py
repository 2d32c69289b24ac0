from iml import steps

steps.log_to_file(snakemake.log[0], snakemake.threads)
steps.fit_base(
    snakemake.input.splits,
    snakemake.input.model,
    base_name=snakemake.params.name,
    base_settings=snakemake.params.settings,
    seed=int(snakemake.wildcards.seed),
    base_path=snakemake.output.base,
)
