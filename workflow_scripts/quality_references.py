
from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
evaluate.quality_references(
    snakemake.input.data,
    snakemake.input.classifier,
    snakemake.input.classifier_summary,
    seed=snakemake.params.seed,
    device=snakemake.config["device"],  # where to compute is not a result parameter
    out_path=snakemake.output[0],
)
