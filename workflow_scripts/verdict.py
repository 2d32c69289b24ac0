from iml import verdict
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
out, params = snakemake.output, snakemake.params
verdict.write_verdict(params.results_dir, out.md, out.csv, runs=params.runs)
