from iml.steps import figures, logs

logs.log_to_file(snakemake.log[0])
out = snakemake.output
figures.figure_toy2d(snakemake.params.settings, [out.png, out.pdf], out.summary)
