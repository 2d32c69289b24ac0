from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from iml import layout
from iml.bases import BASES
from iml.config_checks import check_config
from iml.models import MODELS, family_of

validate(config, "../schemas/config.schema.yaml")
check_config(config)

R = config["results_dir"]
DL = config["data"]["download_dir"]
RUN = f"{R}/{layout.run_folder()}"
LOGS = f"{R}/logs"
BENCH = f"{R}/{layout.BENCHMARKS}"
TABLES = f"{R}/{layout.TABLES}"
# models whose exact likelihood (Eq. 6) is computed, as the model registry declares
INVERTIBLE = {m for m, s in MODELS.items() if s.exact_likelihood}


def _one_of(names):
    return "|".join(sorted(names)) or "(?!)"  # (?!) matches nothing


# The run folders that each per-run evaluation job of rules/evaluate.smk writes. MNIST runs get the
# sample-quality metrics (its feature classifier), those of invertible models the exact likelihood too.
_EXACT = {
    a for a, s in config["algorithms"].items() if s.get("model_of", a) in INVERTIBLE
}
_SCORED = set(config["algorithms"]) - _EXACT
_MNIST = "{dataset,mnist}"
RUN_EXACT = f"{R}/{layout.run_folder(_MNIST, f'{{algorithm,{_one_of(_EXACT)}}}')}"
RUN_SCORED = f"{R}/{layout.run_folder(_MNIST, f'{{algorithm,{_one_of(_SCORED)}}}')}"
RUN_OTHER = f"{R}/{layout.run_folder('{dataset,(?!mnist/)[a-z0-9_]+}')}"


wildcard_constraints:
    dataset="[a-z0-9_]+",
    algorithm="[a-z_]+",
    k=r"\d+",
    seed=r"\d+",
    file=r"[a-z0-9-]+-idx[13]-ubyte\.gz",


def mnist_raw_files(wildcards):
    from iml.data.mnist import POOL_FILES

    return [
        f"{DL}/mnist/{name}" for name in POOL_FILES[config["data"]["mnist"]["pool"]]
    ]


def runs(dataset, algorithms=None):
    """Every (algorithm, K, seed) the config asks for (of `algorithms`, default the dataset's), as dicts."""
    return [
        {"algorithm": a, "K": k, "seed": s}
        for a in (algorithms or config[dataset]["algorithms"])
        for k in latent_dims(dataset, a)
        for s in config["seeds"]
    ]


def latent_dims(dataset, algorithm):
    """The K values of an algorithm's runs: the dataset's, or for a which-base base that is not one of
    mnist.algorithms, mnist.bases_K when set."""
    mnist = config["mnist"]
    if (
        dataset == "mnist"
        and mnist.get("bases_K")
        and algorithm in layout.bases_only(config)
    ):
        return mnist["bases_K"]
    return config[dataset]["K"]


def run_files(dataset, name, only=None, algorithms=None):
    return [
        f"{R}/{layout.run_folder(dataset, r['algorithm'], r['K'], r['seed'])}/{name}"
        for r in runs(dataset, algorithms)
        if only is None or trained_as(r["algorithm"]) in only
    ]


def which_base_algorithms():
    """The which-base table's rows (iml.layout.which_base_rows)."""
    return layout.which_base_rows(config)


def which_base_k():
    """The K of the which-base figure: figures.which_base.K, or the first of the bases' K."""
    return (
        config["figures"]["which_base"]["K"]
        or (config["mnist"].get("bases_K") or config["mnist"]["K"])[0]
    )


def memorisation_algorithms():
    """The memorisation figure's rows: the which-base rows, or mnist.algorithms without bases."""
    return which_base_algorithms() or config["mnist"]["algorithms"]


def which_base_run(algorithm):
    """The run of `algorithm` the which-base and memorisation figures show: K which_base_k(), the first seed."""
    k, seed = which_base_k(), config["seeds"][0]
    return f"{R}/{layout.run_folder(layout.WHICH_BASE_DATASET, algorithm, k, seed)}"


def memorisation_run(algorithm):
    return which_base_run(algorithm)


def which_base_outputs():
    if not config["mnist"]["bases"]:
        return []
    tables = layout.table_names(layout.WHICH_BASE_DATASET, layout.WHICH_BASE_TABLES)
    return [f"{TABLES}/{name}" for name in tables] + [
        f"{R}/figures/mnist_which_base.{ext}" for ext in ("png", "pdf")
    ]


def likelihood_runs(dataset, algorithms=None):
    return [
        r for r in runs(dataset, algorithms) if trained_as(r["algorithm"]) in INVERTIBLE
    ]


def trained_as(algorithm):
    """The algorithm whose trained model this one uses: a variant such as iml_allcodes (another
    base fit) names it in model_of and shares its model.pt."""
    return config["algorithms"][algorithm].get("model_of", algorithm)


def algorithm_families():
    """{algorithm: its family (iml, vae, gan, wgan)} from the model registry, for the tables."""
    return family_of(config["algorithms"])


def model_file(wildcards):
    w = wildcards
    return f"{R}/{layout.run_folder(w.dataset, trained_as(w.algorithm), w.k, w.seed)}/model.pt"


def table_file(dataset, name, ext):
    """A table's file under the results (iml.layout names it)."""
    return f"{TABLES}/{layout.table_name(dataset, name, ext)}"


def table_files(dataset):
    return [
        f"{TABLES}/{name}"
        for name in layout.table_names(dataset, layout.DATASET_TABLES)
    ]


FIGURES = {
    "mnist": [
        "kde_vs_k",
        "exact_vs_base",
        "two_digits",
        "nearest",
        "iml_by_component",
        "memorisation",
    ],
    "celeba": ["nearest", "iml_by_component"],
}


def image_datasets():
    """MNIST always; CELEB-A when its images are given (they cannot be fetched automatically)."""
    return ["mnist"] + (["celeba"] if config["data"]["celeba"]["source"] else [])


def figure_files(dataset):
    names = FIGURES[dataset] + (["toy2d"] if dataset == "mnist" else [])
    return [
        (
            f"{R}/figures/{name}.{ext}"
            if name == "toy2d"
            else f"{R}/figures/{dataset}_{name}.{ext}"
        )
        for name in names
        for ext in ("png", "pdf")
    ]


def nearest_k(dataset):
    return (
        config["figures"]["nearest"]["K"]
        if dataset == "mnist"
        else config[dataset]["K"][0]
    )


def nearest_sample_files(wildcards):
    k, seed = nearest_k(wildcards.dataset), config["seeds"][0]
    return [
        f"{R}/{layout.run_folder(wildcards.dataset, a, k, seed)}/samples.npz"
        for a in config[wildcards.dataset]["algorithms"]
    ]


def celeba_inputs(wildcards):
    """The user's CelebA images (and partition file, when named); when absent, say where to get
    them and where to put them, before any job runs."""
    from iml.data.celeba import CelebAMissingError, require_source

    celeba = config["data"]["celeba"]
    try:
        require_source(celeba["source"], celeba["partition"])
    except CelebAMissingError as err:
        raise WorkflowError(str(err)) from None
    return {"source": celeba["source"]} | (
        {"partition": celeba["partition"]} if celeba["partition"] else {}
    )


def audio_datasets():
    """The audio datasets to run: the violin only when a recording is configured."""
    violin = config["data"]["violin"]["source"]
    return [
        d
        for d in config["audio"]["run"]
        if config["audio"]["datasets"][d]["source"] != "violin" or violin
    ]


def speech_datasets():
    """The audio datasets whose generated audio gets the speech scores: the FSDD ones (spoken digits)."""
    return [
        d
        for d in audio_datasets()
        if config["audio"]["datasets"][d]["source"] == "fsdd"
    ]


def audio_seeds(dataset):
    """The seeds of a dataset's audio runs: audio.seeds.<dataset>, or the first of seeds."""
    return config["audio"]["seeds"].get(dataset, config["seeds"][:1])


def audio_runs(dataset, algorithms=None):
    """The run folders of an audio dataset: every algorithm of audio.algorithms (or `algorithms`)
    and seed of audio_seeds."""
    a = config["audio"]
    return [
        f"{R}/{layout.run_folder(dataset, algorithm, a['K'], seed)}"
        for algorithm in (algorithms or a["algorithms"])
        for seed in audio_seeds(dataset)
    ]


def audio_run(dataset):
    """The run the dataset's figures show: its first algorithm (the HMM) at its first seed."""
    return audio_runs(dataset, config["audio"]["algorithms"][:1])[0]


def audio_table_runs():
    """Every audio run in the audio table, with the speech scores for the FSDD datasets."""
    return [run for d in audio_datasets() for run in audio_runs(d)]


def violin_file():
    """Cached under a digest of its source (path or URL), so a changed source is fetched anew."""
    from pathlib import PurePosixPath

    from iml.data.download import source_key

    source = str(config["data"]["violin"]["source"])
    return f"{DL}/violin/{source_key(source)}/{PurePosixPath(source).name}"


def violin_local_source(wildcards):
    """A local violin file is an input: replacing it reruns the download."""
    from pathlib import Path

    source = config["data"]["violin"]["source"]
    return [source] if source and "://" not in source and Path(source).exists() else []


def audio_raw_input(wildcards):
    """FSDD: the download's listing; the user's recordings: their folder or CSV; violin: its file."""
    from pathlib import Path

    settings = config["audio"]["datasets"][wildcards.dataset]
    if settings["source"] == "fsdd":
        return f"{DL}/fsdd/recordings.md5"
    if settings["source"] == "recordings":
        if not Path(settings["path"]).exists():
            raise WorkflowError(
                f"config: audio.datasets.{wildcards.dataset}.path: {settings['path']} not found "
                "(a folder of {label}_{speaker}_{index}.wav files, or a CSV with columns file, speaker, label)"
            )
        return settings["path"]
    return violin_file()


def audio_outputs():
    datasets = audio_datasets()
    files = [f"{run}/generated.wav" for d in datasets for run in audio_runs(d)]
    files += [
        f"{R}/figures/{d}_{name}.{ext}"
        for d in datasets
        for name in ("spectrogram", "reconstruction")
        for ext in ("png", "pdf")
    ]
    if datasets:
        files += [f"{R}/tables/{name}" for name in layout.audio_table_names()]
    return files


def final_outputs():
    files = audio_outputs() + [
        f"{R}/tables/table1.{ext}" for ext in ("csv", "md", "tex")
    ]
    for dataset in image_datasets():
        files += table_files(dataset) + figure_files(dataset)
        files += run_files(dataset, "samples.png")
    return (
        files + which_base_outputs() + [f"{R}/verdict.{ext}" for ext in ("md", "csv")]
    )


def algorithm_settings(wildcards):
    return config["algorithms"][wildcards.algorithm]


def base_name(wildcards):
    return config["algorithms"][wildcards.algorithm]["base"]


def base_settings(wildcards):
    overrides = config["algorithms"][wildcards.algorithm].get("base_settings", {})
    # the audio chain's training sequence: audio.sequence unless the variant names its own
    if BASES[base_name(wildcards)].sequential:
        overrides = {"sequence": config["audio"]["sequence"], **overrides}
    return {**config["bases"][base_name(wildcards)], **overrides}


def base_notes(dataset):
    """How each algorithm's base is fitted, for the table captions: {algorithm: words}
    (iml.bases.caption_notes, as iml.publish's tables from published runs)."""
    from iml.bases import caption_notes

    fits = {}
    for a in config[dataset]["algorithms"]:
        algorithm = config["algorithms"][a]
        base = algorithm["base"]
        fits[a] = (
            base,
            {**config["bases"][base], **algorithm.get("base_settings", {})},
        )
    return caption_notes(fits)


def fit_settings(wildcards):
    """What produced a run's model and base, apart from its seed and K, hashed into base.json's
    provenance: the algorithm's settings, its base's and the data split's (not the evaluation's, so that
    a changed evaluation setting reruns the evaluation only)."""
    data = {
        k: v
        for k, v in (
            config["data"].get(wildcards.dataset)
            or config["audio"]["datasets"].get(wildcards.dataset, {})
        ).items()
        if k
        not in ("source", "partition")  # where the files lie is not a result parameter
    }
    return {
        "dataset": wildcards.dataset,
        "algorithm": algorithm_settings(wildcards),
        "base": base_settings(wildcards),
        "data": data,
    }


def run_settings(wildcards):
    """What produced a run's scores, hashed into their provenance: fit_settings and the evaluation's."""
    return {**fit_settings(wildcards), "evaluate": config["evaluate"]}


def res(group, key, default=None):
    return config["resources"][group].get(key, default)
