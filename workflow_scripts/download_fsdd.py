from iml import steps, steps_audio

data = snakemake.config["data"]  # how to fetch is not a result parameter
steps.log_to_file(snakemake.log[0])
steps_audio.download_fsdd(
    snakemake.output[0],
    mirror=data["mirror"],
    archive=data["fsdd"]["archive"],
    retries=data["retries"],
    timeout=data["timeout"],
)
