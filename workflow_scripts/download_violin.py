from iml import steps, steps_audio

data = snakemake.config["data"]
steps.log_to_file(snakemake.log[0])
steps_audio.download_violin(
    data["violin"]["source"],
    data["violin"]["md5"],
    snakemake.output[0],
    mirror=data["mirror"],
    retries=data["retries"],
    timeout=data["timeout"],
)
