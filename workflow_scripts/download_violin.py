from iml.data import violin
from iml.steps import logs

data = snakemake.config["data"]
logs.log_to_file(snakemake.log[0])
violin.download(
    data["violin"]["source"],
    data["violin"]["md5"],
    snakemake.output[0],
    mirror=data["mirror"],
    retries=data["retries"],
    timeout=data["timeout"],
)
