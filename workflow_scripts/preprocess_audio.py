from iml.data import audio
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
audio.preprocess(
    snakemake.wildcards.dataset,
    snakemake.input[0],
    settings=snakemake.params.settings,
    chunk=snakemake.params.chunk,
    splits_path=snakemake.output.splits,
    info_path=snakemake.output.info,
)
