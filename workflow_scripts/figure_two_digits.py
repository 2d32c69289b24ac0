
from iml.steps import figures, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
figures.figure_two_digits(
    snakemake.input.data,
    settings=snakemake.params.settings,
    seed=snakemake.params.seed,
    device=snakemake.config["device"],
    figure_paths=[snakemake.output.png, snakemake.output.pdf],
    checkpoint_path=snakemake.params.checkpoint,
)
