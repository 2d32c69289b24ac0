from iml.data import mnist
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
mnist.preprocess(
    snakemake.input,
    pool=snakemake.params.pool,
    sizes=snakemake.params.sizes,
    seed=snakemake.params.seed,
    splits_path=snakemake.output.splits,
    info_path=snakemake.output.info,
)
