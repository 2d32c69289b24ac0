
from iml.steps import figures, logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
figures.audio_figures(
    snakemake.wildcards.dataset,
    snakemake.input.data,
    snakemake.input.model,
    snakemake.input.wav,
    seconds=snakemake.params.seconds,
    hop=snakemake.params.hop,
    spectrogram_paths=[out.spectrogram_png, out.spectrogram_pdf],
    reconstruction_paths=[out.reconstruction_png, out.reconstruction_pdf],
)
