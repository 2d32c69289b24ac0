from pathlib import Path

from iml import steps, steps_audio

steps.log_to_file(snakemake.log[0], snakemake.threads)
steps_audio.audio_scores(
    Path(snakemake.input.data).parent,
    snakemake.input.model,
    snakemake.input.base,
    hop=snakemake.params.hop,
    seed=int(snakemake.wildcards.seed),
    out_path=snakemake.output[0],
)
