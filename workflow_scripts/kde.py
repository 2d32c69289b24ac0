from iml import steps

steps.log_to_file(snakemake.log[0], snakemake.threads)
steps.kde_scores(
    snakemake.input.splits,
    snakemake.input.samples,
    settings=snakemake.params.settings,
    split_info_path=snakemake.input.split_info,
    out_path=snakemake.output[0],
)
