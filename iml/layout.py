"""Where the workflow's files lie under its results folder and which tables it writes: the facts the
rules (rules/common.smk, rules/aggregate.smk, rules/train.smk) and the tables rebuilt from published
summaries (iml.publish) share, each written here once.

    run_folder(dataset, algorithm, k, seed)   a run's folder, <dataset>/<algorithm>/K<k>/seed<s>;
                                              called without arguments, the rules' wildcard pattern
    parse_run(folder), RUN_GLOB               a run folder back into its fields; the glob finding them
    run_job(...)                              a run's job name in its log and benchmark file names
    train_benchmark(...)                      the training job's benchmark file (its wall time)
    table_name(dataset, name, ext)            a table's file name in tables/
    audio_table_names()                       the audio table's file names in tables/
    DATASET_TABLES, WHICH_BASE_TABLES         the tables of each image dataset, and the which-base ones
    references_file()                         the sample-quality references' scores
    which_base_rows(config), bases_only(config)  the which-base table's row order; its bases that are
                                              no algorithm of MNIST's (kept out of Table 1)
"""

import re

TABLES = "tables"  # the tables' folder under the results
METRICS = "metrics"  # the classifiers' summaries and the references' scores under the results
BENCHMARKS = "benchmarks"  # the jobs' benchmark files' folder under the results
TABLE_FORMATS = ("csv", "md", "tex")  # every table is written in each, in this order
DATASET_TABLES = ("kde_by_k", "table1")  # each image dataset's tables (rule make_tables)
WHICH_BASE_DATASET = "mnist"  # the dataset of the which-base experiment
WHICH_BASE_TABLES = ("which_base", "which_base_by_k")  # its tables (rule which_base)
RUN_GLOB = "*/*/K*/seed*"  # every run folder under the results
_RUN = re.compile(r"(?P<dataset>[a-z0-9_]+)/(?P<algorithm>[a-z_]+)/K(?P<K>\d+)/seed(?P<seed>\d+)$")


def run_folder(dataset="{dataset}", algorithm="{algorithm}", k="{k}", seed="{seed}"):
    """A run's folder relative to the results; with the default arguments, the rules' pattern of
    wildcards (a wildcard given as "{name,regex}" is constrained as Snakemake reads it)."""
    return f"{dataset}/{algorithm}/K{k}/seed{seed}"


def parse_run(folder):
    """{dataset, algorithm, K, seed} of a run folder (relative, as run_folder writes it), or None."""
    match = _RUN.match(str(folder))
    if not match:
        return None
    return {**match.groupdict(), "K": int(match["K"]), "seed": int(match["seed"])}


def run_job(dataset="{dataset}", algorithm="{algorithm}", k="{k}", seed="{seed}"):
    """A run's job name in its log and benchmark file names; the rules' wildcard pattern by default."""
    return f"{dataset}_{algorithm}_K{k}_seed{seed}"


def train_benchmark(dataset="{dataset}", algorithm="{algorithm}", k="{k}", seed="{seed}"):
    """The training job's benchmark file relative to the results (Snakemake's: its wall time in `s`)."""
    return f"{BENCHMARKS}/train/{run_job(dataset, algorithm, k, seed)}.tsv"


def audio_table_names():
    """The audio table's file names in tables/, one per format."""
    return [f"audio.{ext}" for ext in TABLE_FORMATS]


def table_name(dataset, name, ext):
    """A table's file name in tables/: <dataset>_<name>.<ext>."""
    return f"{dataset}_{name}.{ext}"


def table_names(dataset, names):
    """The file names of the tables `names` of `dataset`, each in every format, table by table."""
    return [table_name(dataset, name, ext) for name in names for ext in TABLE_FORMATS]


def references_file(dataset=WHICH_BASE_DATASET):
    """The sample-quality references' scores relative to the results (rule quality_references)."""
    return f"{METRICS}/{dataset}_references.json"


def which_base_rows(config):
    """The which-base table's rows, in order: the bases on IML's autoencoders (mnist.bases), then the
    other algorithms of mnist.algorithms (scored by sample quality too); none without bases."""
    bases = config["mnist"]["bases"]
    return bases + [a for a in config["mnist"]["algorithms"] if a not in bases] if bases else []


def bases_only(config):
    """The which-base bases that are no algorithm of mnist.algorithms: their runs stay out of Table 1."""
    return set(config["mnist"]["bases"]) - set(config["mnist"]["algorithms"])
