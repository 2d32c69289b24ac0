from iml import steps, steps_audio

steps.log_to_file(snakemake.log[0])
out = snakemake.output
steps_audio.audio_table(
    snakemake.params.datasets,
    snakemake.input.scores,
    snakemake.input.info,
    table_paths=[out.csv, out.md, out.tex],
)
