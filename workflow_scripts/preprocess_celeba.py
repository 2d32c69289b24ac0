from pathlib import Path

from iml.data import celeba
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
celeba.preprocess(
    snakemake.input.source,
    snakemake.input.get("partition"),
    snakemake.params.settings,
    threads=snakemake.threads,
    seed=snakemake.params.seed,
    data_dir=Path(snakemake.output.info).parent,
)
