from pathlib import Path

from iml.steps import evaluate, logs

logs.log_to_file(snakemake.log[0], snakemake.threads)
evaluate.exact_likelihood(
    Path(snakemake.input.data).parent,
    snakemake.input.model,
    snakemake.input.base,
    n_test=snakemake.params.n_test,
    arrays_path=snakemake.output.arrays,
    summary_path=snakemake.output.summary,
)
