from iml import steps

steps.log_to_file(snakemake.log[0], snakemake.threads)
steps.generate(
    snakemake.input.model,
    snakemake.input.base,
    n_samples=snakemake.params.n_samples,
    n_grid=snakemake.params.grid_images,
    samples_path=snakemake.output.samples,
    grid_paths=[snakemake.output.grid],
)
