from iml.data import fsdd
from iml.steps import logs

data = snakemake.config["data"]  # how to fetch is not a result parameter
logs.log_to_file(snakemake.log[0])
fsdd.download(
    snakemake.output[0],
    mirror=data["mirror"],
    archive=data["fsdd"]["archive"],
    retries=data["retries"],
    timeout=data["timeout"],
)
