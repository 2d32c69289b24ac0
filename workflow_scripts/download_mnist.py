from iml.data import mnist
from iml.steps import logs

# where and how to fetch are not parameters of the result: read them from the config,
# so that changing the mirror does not invalidate downloaded files
data = snakemake.config["data"]
logs.log_to_file(snakemake.log[0])
mnist.download(
    snakemake.wildcards.file,
    snakemake.output[0],
    mirror=data["mirror"],
    retries=data["retries"],
    timeout=data["timeout"],
)
