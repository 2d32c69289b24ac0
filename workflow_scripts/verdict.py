from pathlib import Path

from iml import verdict
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
# the verdict files lie in the results folder whose summaries it reads
verdict.write_verdict(Path(out.md).parent, out.md, out.csv, runs=snakemake.params.runs)
