from iml import tables
from iml.steps import logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
tables.write_combined_table1(
    snakemake.params.datasets,
    snakemake.input,
    [out.csv, out.md, out.tex],
    families=snakemake.params.families,
)
