from iml.steps import audio, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
audio.generate_audio(
    snakemake.input.model,
    snakemake.input.base,
    seconds=snakemake.params.seconds,
    hop=snakemake.params.hop,
    wav_path=snakemake.output.wav,
    codes_path=snakemake.output.codes,
)
