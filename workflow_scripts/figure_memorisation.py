
from iml.steps import figures, logs

logs.log_to_file(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
figures.figure_memorisation(
    inp.data,
    snakemake.params.labels,
    inp.samples,
    inp.memorisation,
    snakemake.params.n_pairs,
    [out.png, out.pdf],
)
