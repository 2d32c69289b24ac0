from iml.steps import aggregate, logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
runs = aggregate.load_runs(snakemake.params.runs, snakemake.input.kde, {})
aggregate.make_figures(
    snakemake.wildcards.dataset,
    runs,
    likelihood_arrays=list(zip(snakemake.params.likelihood_runs, snakemake.input.likelihood)),
    kde_vs_k_paths=[out.kde_vs_k_png, out.kde_vs_k_pdf],
    scatter_paths=[out.exact_vs_base_png, out.exact_vs_base_pdf],
)
