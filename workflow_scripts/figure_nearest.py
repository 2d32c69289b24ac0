from iml import steps

steps.log_to_file(snakemake.log[0])
out, settings = snakemake.output, snakemake.params.settings
algorithms = snakemake.params.algorithms
steps.figure_nearest(
    snakemake.input.splits,
    snakemake.input.samples,
    algorithms,
    n_images=settings["n_images"],
    seed=settings["seed"],
    nearest_paths=[out.nearest_png, out.nearest_pdf],
    component_paths=[out.components_png, out.components_pdf],
    iml_samples_path=snakemake.input.samples[algorithms.index("iml")],
    n_components_shown=settings["n_components_shown"],
)
