from pathlib import Path

from iml import steps

steps.log_to_file(snakemake.log[0])
settings = snakemake.params.settings
steps.preprocess_celeba(
    snakemake.config["data"]["celeba"]["source"],
    settings["partition"],
    settings,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
    data_dir=Path(snakemake.output.info).parent,
)
