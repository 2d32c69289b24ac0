from iml import steps

steps.log_to_file(snakemake.log[0])
steps.download_mnist_file(
    snakemake.wildcards.file,
    snakemake.output[0],
    mirror=snakemake.params.mirror,
    retries=snakemake.params.retries,
    timeout=snakemake.params.timeout,
)
