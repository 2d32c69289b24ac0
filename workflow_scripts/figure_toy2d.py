from iml import steps

steps.log_to_file(snakemake.log[0])
out = snakemake.output
steps.figure_toy2d(snakemake.params.settings, [out.png, out.pdf], out.summary)
