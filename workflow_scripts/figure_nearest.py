
from iml.models import spec
from iml.steps import figures, logs

logs.log_to_file(snakemake.log[0])
out, settings = snakemake.output, snakemake.params.settings
algorithms = snakemake.params.algorithms
figures.figure_nearest(
    snakemake.input.data,
    snakemake.input.samples,
    algorithms,
    n_images=settings["n_images"],
    seed=settings["seed"],
    nearest_paths=[out.nearest_png, out.nearest_pdf],
    component_paths=[out.components_png, out.components_pdf],
    iml_samples_path=next(
        path
        for a, path in zip(algorithms, snakemake.input.samples)
        if spec(a, snakemake.config["algorithms"]).family == "iml"
    ),
    n_components_shown=settings["n_components_shown"],
)
