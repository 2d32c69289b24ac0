from iml.data import fsdd
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
fsdd.preprocess(
    snakemake.wildcards.dataset,
    snakemake.input[0],
    settings=snakemake.params.settings,
    chunk=snakemake.params.chunk,
    splits_path=snakemake.output.splits,
    info_path=snakemake.output.info,
)
