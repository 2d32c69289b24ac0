
from iml.steps import logs, train

logs.log_to_file(snakemake.log[0], snakemake.threads)
train.train_model(
    snakemake.input.data,
    algorithm=snakemake.wildcards.algorithm,
    latent_dim=int(snakemake.wildcards.k),
    settings=snakemake.params.settings,
    seed=int(snakemake.wildcards.seed),
    device=snakemake.config["device"],  # where to train is not a result parameter
    model_path=snakemake.output.model,
    loss_csv=snakemake.output.loss_csv,
    loss_plots=[snakemake.output.loss_png],
    checkpoint_path=snakemake.params.checkpoint,
)
