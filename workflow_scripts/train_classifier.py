
from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
evaluate.train_classifier(
    snakemake.input.data,
    settings=snakemake.params.settings,
    device=snakemake.config["device"],  # where to train is not a result parameter
    model_path=snakemake.output.model,
    summary_path=snakemake.output.summary,
)
