
from iml.steps import logs, train

logs.log_to_file(snakemake.log[0], snakemake.threads)
train.fit_base(
    snakemake.input.data,
    snakemake.input.model,
    base_name=snakemake.params.name,
    base_settings=snakemake.params.settings,
    seed=int(snakemake.wildcards.seed),
    base_path=snakemake.output.base,
    summary_path=snakemake.output.summary,
    run_settings=snakemake.params.run,
    validation_fraction=snakemake.params.validation_fraction,
    device=snakemake.config["device"],  # where to compute is not a result parameter
)
