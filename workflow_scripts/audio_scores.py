
from iml.steps import audio, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
audio.audio_scores(
    snakemake.input.data,
    snakemake.input.model,
    snakemake.input.base,
    hop=snakemake.params.hop,
    out_path=snakemake.output[0],
    run_settings=snakemake.params.run,
    device=snakemake.config["device"],
)
