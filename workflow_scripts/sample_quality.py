from pathlib import Path

from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
evaluate.quality_scores(
    Path(snakemake.input.data).parent,
    snakemake.input.classifier,
    snakemake.input.classifier_summary,
    snakemake.input.samples,
    device=snakemake.config["device"],  # where to compute is not a result parameter
    out_path=snakemake.output[0],
)
