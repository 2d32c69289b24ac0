from iml import steps, steps_audio

steps.log_to_file(snakemake.log[0])
steps_audio.preprocess_audio(
    snakemake.wildcards.dataset,
    snakemake.input[0],
    settings=snakemake.params.settings,
    chunk=snakemake.params.chunk,
    splits_path=snakemake.output.splits,
    info_path=snakemake.output.info,
)
