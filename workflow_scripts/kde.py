from pathlib import Path

from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
evaluate.kde_scores(
    Path(snakemake.input.data).parent,
    snakemake.input.samples,
    settings=snakemake.params.settings,
    out_path=snakemake.output[0],
)
