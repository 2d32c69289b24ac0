from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
evaluate.generate(
    snakemake.input.model,
    snakemake.input.base,
    n_samples=snakemake.params.n_samples,
    n_grid=snakemake.params.grid_images,
    samples_path=snakemake.output.samples,
    grid_paths=[snakemake.output.grid],
)
