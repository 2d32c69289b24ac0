from pathlib import Path

from iml.steps import audio, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
audio.audio_scores(
    Path(snakemake.input.data).parent,
    snakemake.input.model,
    snakemake.input.base,
    hop=snakemake.params.hop,
    out_path=snakemake.output[0],
    run_settings=snakemake.params.run,
    device=snakemake.config["device"],
)
