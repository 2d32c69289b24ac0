from pathlib import Path

from iml import steps

steps.log_to_file(snakemake.log[0], snakemake.threads)
steps.kde_scores(
    Path(snakemake.input.data).parent,
    snakemake.input.samples,
    settings=snakemake.params.settings,
    out_path=snakemake.output[0],
)
