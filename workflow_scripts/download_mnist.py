from iml import steps

# where and how to fetch are not parameters of the result: read them from the config,
# so that changing the mirror does not invalidate downloaded files
data = snakemake.config["data"]
steps.log_to_file(snakemake.log[0])
steps.download_mnist_file(
    snakemake.wildcards.file,
    snakemake.output[0],
    mirror=data["mirror"],
    retries=data["retries"],
    timeout=data["timeout"],
)
