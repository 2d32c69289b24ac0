"""Cross-field checks of the workflow's config that its JSON schema cannot express.

The Snakefile calls `check_config(config)` right after validating the config against the schema, so
a setting that would fail late (or silently) in some job is refused before any job runs, by an error
that names the key. Plain dicts in, a ValueError out: the checks run in-process in the tests.
"""

import re
from pathlib import Path

from iml.models import spec

MAX_SEED = 2**32 - 1  # scikit-learn's random_state and numpy's legacy seeding take no larger seed
# folders of the project's own files: results written into (or over) them would mix with the source
SOURCE_FOLDERS = ("iml", "rules", "workflow_scripts", "schemas", "tests", "docs", "presets", "report", "envs",
                  "profiles", "benchmarks")
FLOAT32_BYTES = 4
SAMPLE_COPIES = 2  # a run's generated samples are held twice while they are decoded and stored


def check_config(config, project=None, cuda_devices=None):
    """Refuse settings that the schema lets through but a job would trip over. `project` is the
    workflow's folder (default: the current directory, where Snakemake runs); `cuda_devices` the
    number of CUDA devices where the jobs run (None: this machine's, asked only when a setting
    names CUDA)."""
    check_evaluate_config(config)
    check_dataset_config(config)
    check_which_base_config(config)
    check_data_config(config)
    check_sizes(config)
    check_seeds(config)
    check_devices(config, cuda_devices)
    check_results_dir(config, Path.cwd() if project is None else Path(project))


def check_evaluate_config(config):
    ev = config["evaluate"]
    paper = ev["kde"]["paper"]
    needed = {
        "evaluate.kde.paper.n_per_draw x n_draws": paper["n_per_draw"] * paper["n_draws"],
        "evaluate.kde.standard.n_samples": ev["kde"]["standard"]["n_samples"],
    }
    for key, n in needed.items():
        if n > ev["n_samples"]:
            raise ValueError(f"config: {key} needs {n} generated samples but evaluate.n_samples is {ev['n_samples']}")
    grid = ev["kde"]["standard"]["sigma_grid"]
    if grid["min"] > grid["max"]:
        raise ValueError("config: evaluate.kde.standard.sigma_grid.min is larger than its max")


def check_dataset_config(config):
    """Names that must refer to sections that exist, and figures at a K that is run."""
    if config["data"]["celeba"]["source"] and not any(
        spec(a, config["algorithms"]).family == "iml" for a in config["celeba"]["algorithms"]
    ):
        raise ValueError("config: celeba.algorithms needs iml_dcgan (Fig. 5 groups its samples)")
    if config["figures"]["nearest"]["K"] not in config["mnist"]["K"]:
        raise ValueError("config: figures.nearest.K must be one of mnist.K")
    for dataset in config["audio"]["run"]:
        if dataset not in config["audio"]["datasets"]:
            raise ValueError(f"config: audio.run names {dataset!r} but audio.datasets.{dataset} is missing")
    for key in ("algorithms", "bases"):
        for algorithm in config["mnist"][key]:
            if algorithm not in config["algorithms"]:
                raise ValueError(f"config: mnist.{key} names {algorithm!r} but algorithms.{algorithm} is missing")


def check_which_base_config(config):
    """The which-base experiment compares bases on IML's own autoencoders."""
    bases = config["mnist"]["bases"]
    others = [a for a in bases if config["algorithms"][a].get("model_of", a) != "iml"]
    if others:
        raise ValueError(
            f"config: mnist.bases {others} do not use IML's trained model (model_of: iml): "
            "the which-base experiment compares bases on the same autoencoders"
        )
    ks = config["mnist"].get("bases_K") or config["mnist"]["K"]
    if not set(ks) <= set(config["mnist"]["K"]):
        raise ValueError(f"config: mnist.bases_K {sorted(set(ks) - set(config['mnist']['K']))} not in mnist.K")
    k = config["figures"]["which_base"]["K"]
    if bases and k is not None and k not in ks:
        raise ValueError(
            f"config: figures.which_base.K ({k}) must be one of mnist.bases_K, or of mnist.K when that is "
            "null (or null: the first of them)"
        )


def check_data_config(config):
    """Settings that would fail late or silently in a data or training job."""
    from iml.data.mnist import split_counts

    mnist = config["data"]["mnist"]
    try:
        split_counts(mnist["pool"], mnist["sizes"])
    except ValueError as err:
        raise ValueError(f"config: data.mnist: {err}") from None
    chunk = config["audio"]["chunk"]
    if chunk["hop"] > chunk["size"]:
        raise ValueError(
            f"config: audio.chunk.hop ({chunk['hop']}) is larger than audio.chunk.size "
            f"({chunk['size']}): samples between chunks would be lost"
        )
    hidden = config["algorithms"].get("iml", {}).get("model", {}).get("hidden", 600)
    too_large = [k for k in config["mnist"]["K"] if k > hidden]
    if "iml" in config["mnist"]["algorithms"] and too_large:
        raise ValueError(
            f"config: mnist.K {too_large} larger than algorithms.iml.model.hidden ({hidden}): "
            "the invertible perceptron needs K <= hidden"
        )


def check_results_dir(config, project):
    """Results stay inside the project folder (a download cache linked in from a shared disk is fine)
    and apart from its source: neither inside nor around the package, rules, tests or docs."""
    project, resolved = project.resolve(), (project / config["results_dir"]).resolve()
    if not resolved.is_relative_to(project):
        raise ValueError(
            f"config: results_dir {config['results_dir']!r} resolves to {resolved} "
            f"(through a symbolic link), outside the project folder {project}"
        )
    for name in SOURCE_FOLDERS:
        source = project / name
        if resolved.is_relative_to(source) or source.is_relative_to(resolved):
            raise ValueError(f"config: results_dir {config['results_dir']!r} overlaps the project's {name}/ folder: "
                             "outputs would land among its files; name a folder of its own, such as results")


def _leaves(tree, prefix=""):
    """(dotted key, value) of every setting in a nested config."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, f"{name}.")
        else:
            yield name, value


def check_seeds(config):
    """Every seed within what all the libraries that take one accept (else a late error of theirs)."""
    for key, value in _leaves(config):
        if not re.search(r"(^|[._])(seed|seeds)$", key):
            continue
        for seed in value if isinstance(value, list) else [value]:
            if isinstance(seed, int) and not 0 <= seed <= MAX_SEED:
                raise ValueError(f"config: {key}: seed {seed} is outside 0..{MAX_SEED} (2**32 - 1), the range "
                                 "scikit-learn and numpy accept")


def check_devices(config, cuda_devices=None):
    """A device setting naming CUDA needs that device where the jobs run (device: auto takes CUDA
    wherever it is present, so a cluster's head node without a GPU is best left to auto)."""
    named = {key: value for key, value in _leaves(config)
             if re.search(r"(^|\.)device$", key) and str(value).startswith("cuda")}
    if not named:
        return
    if cuda_devices is None:
        import torch  # only here: the workflow's start-up imports no torch otherwise

        cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for key, value in named.items():
        index = int(value.split(":")[1]) if ":" in value else 0
        if index >= cuda_devices:
            found = f"{cuda_devices} CUDA device(s) (cuda:0..cuda:{cuda_devices - 1})" if cuda_devices else "no CUDA"
            raise ValueError(f"config: {key}: {value!r} but this machine has {found}; use auto (CUDA where present) "
                             "or cpu")


def check_sizes(config):
    """Counts that a job would find too large only when it runs: mixture components beyond the codes
    fitted, figure images beyond the test images, samples beyond the evaluation job's memory."""
    for name, settings in _gmm_settings(config).items():
        n, cap = settings["n_components"], settings["max_codes"]
        if isinstance(n, int) and cap is not None and n > cap:
            raise ValueError(f"config: {name}.n_components ({n}) is larger than {name}.max_codes ({cap}): "
                             "a mixture needs at least as many codes as components")
    from iml.data.mnist import split_counts

    mnist = config["data"]["mnist"]
    n_test = split_counts(mnist["pool"], mnist["sizes"])["test"]
    n_images = config["figures"]["nearest"]["n_images"]
    if n_images > n_test:
        raise ValueError(f"config: figures.nearest.n_images ({n_images}) is larger than the MNIST test split "
                         f"({n_test} images, data.mnist.sizes.test)")
    celeba_test = (config["data"]["celeba"]["split_sizes"] or {}).get("test")
    if config["data"]["celeba"]["source"] and celeba_test and n_images > celeba_test:
        raise ValueError(f"config: figures.nearest.n_images ({n_images}) is larger than the CELEB-A test split "
                         f"({celeba_test} images, data.celeba.split_sizes.test)")
    _check_sample_memory(config)


def _gmm_settings(config):
    """{where the settings come from: GMM settings} of bases.gmm and of each algorithm fitting a GMM."""
    found = {"bases.gmm": config["bases"]["gmm"]}
    for algorithm, settings in config["algorithms"].items():
        if settings.get("base") == "gmm" and settings.get("base_settings"):
            found[f"algorithms.{algorithm}.base_settings"] = {**config["bases"]["gmm"], **settings["base_settings"]}
    return found


def _check_sample_memory(config):
    from iml.data import images, mnist

    dim = images.DATA_DIM if config["data"]["celeba"]["source"] else mnist.DATA_DIM
    n = config["evaluate"]["n_samples"]
    needed, limit = n * dim * FLOAT32_BYTES * SAMPLE_COPIES, config["resources"]["evaluate"]["mem_mb"] * 2**20
    if needed > limit:
        raise ValueError(f"config: evaluate.n_samples ({n}) needs about {needed / 2**30:.3g} GiB for the generated "
                         f"samples ({dim} values each), more than resources.evaluate.mem_mb "
                         f"({config['resources']['evaluate']['mem_mb']} MB)")
