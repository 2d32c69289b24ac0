from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
out, params = snakemake.output, snakemake.params
evaluate.evaluate_run(
    snakemake.input.data,
    snakemake.input.model,
    snakemake.input.base,
    n_samples=params.n_samples,
    n_grid=params.grid_images,
    kde_settings=params.kde,
    n_test=params.n_test,
    classifier=snakemake.input.get("classifier"),
    classifier_summary=snakemake.input.get("classifier_summary"),
    device=snakemake.config["device"],  # where to compute is not a result parameter
    outputs=dict(out.items()),
    settings=params.settings,
    memorisation=params.memorisation,
    n_manifold=params.n_manifold,
)
