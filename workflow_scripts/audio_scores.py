
from iml.steps import audio, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
audio.audio_scores(
    snakemake.input.data,
    snakemake.input.model,
    snakemake.input.base,
    hop=snakemake.params.hop,
    seed=int(snakemake.wildcards.seed),
    out_path=snakemake.output[0],
    frame_bases=snakemake.params.frame_bases,
    validation_fraction=snakemake.params.frame_validation,
)
