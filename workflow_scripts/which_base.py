from iml.io import load_json
from iml.steps import aggregate, logs

logs.log_to_file(snakemake.log[0])
out, inp = snakemake.output, snakemake.input
runs = aggregate.load_runs(
    snakemake.params.runs,
    inp.kde,
    dict(zip(map(aggregate.run_key, snakemake.params.likelihood_runs), inp.likelihood)),
    quality=inp.quality,
    base=inp.base,
    memorisation=inp.memorisation,
)
aggregate.which_base_table(
    runs,
    load_json(inp.references),
    [out.csv, out.md, out.tex],
    [out.by_k_csv, out.by_k_md, out.by_k_tex],
)
aggregate.which_base_figure(
    list(zip(snakemake.params.labels, inp.samples)),
    snakemake.params.n_images,
    [out.png, out.pdf],
    snakemake.params.dataset,
)
