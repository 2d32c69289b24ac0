from iml import steps

steps.log_to_file(snakemake.log[0])
steps.preprocess_mnist(
    snakemake.input,
    pool=snakemake.params.pool,
    sizes=snakemake.params.sizes,
    seed=snakemake.params.seed,
    splits_path=snakemake.output.splits,
    info_path=snakemake.output.info,
)
