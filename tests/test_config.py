"""The config as the workflow reads it: the schema (checked in-process as the Snakefile checks it,
and once through Snakemake to show it runs before any job), the presets' DAGs, job by job, and
every constructor option reaching its model. The cross-field checks: tests/test_config_checks.py."""

import re

import pytest
import torch
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from iml.config_checks import check_config
from iml.data import mnist
from iml.models import build_model
from tests.helpers import REPO, copy_workflow, snakemake
from tests.test_config_checks import merged

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf"))


@pytest.fixture(scope="module")
def paper_config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def read_config(paper_config, *overrides):
    """The paper's config with the overrides merged in, validated against the schema (which fills
    its defaults) and cross-checked, as the Snakefile reads it."""
    config = paper_config
    for override in overrides:
        config = merged(config, override)
    validate(config, SCHEMA)
    check_config(config, project=REPO)
    return config


@pytest.mark.parametrize("override,expected", [
    ({"mnist": {"K": [20, -5]}}, r"-5 is less than the minimum of 1.*\['mnist'\]\['K'\]"),
    ({"mnist": {"algorithms": ["iml", "flow"]}}, r"'flow' is not one of.*\['mnist'\]\['algorithms'\]"),
    ({"results_dir": "../elsewhere"}, r"does not match.*\['results_dir'\]"),
    ({"results_dir": "/tmp/abs"}, r"does not match.*\['results_dir'\]"),
    ({"results_dir": "results_{x}"}, r"'results_\{x\}' does not match.*\['results_dir'\]"),
    ({"algorithms": {"iml": {"train": {"epochs": "ten"}}}}, r"'ten' is not of type 'integer'.*\['epochs'\]"),
    ({"bases": {"gmm": {"n_componets": 3}}}, r"Additional properties are not allowed \('n_componets'"),
    # settings that used to pass validation and fail late (or silently)
    ({"algorithms": {"iml": {"base_settings": {"n_componets": 3}}}},
     r"Additional properties are not allowed \('n_componets'.*\['iml'\]\['base_settings'\]"),
    ({"algorithms": {"iml_audio": {"base_settings": {"n_components": 3}}}},
     r"Additional properties are not allowed \('n_components'.*\['iml_audio'\]\['base_settings'\]"),
    ({"audio": {"datasets": {"celeba": {"source": "fsdd", "digits": None, "n_utterances": None,
                                        "held_out_speakers": ["theo"], "seed": 0}}}},
     r"'celeba' does not match.*\['audio'\]\['datasets'\]"),
    ({"audio": {"sequence": "joined"}}, r"'joined' is not one of \['concatenated', 'per_recording'\].*\['sequence'\]"),
    # a misspelt model setting (the schema is checked against the constructors by tests/test_settings.py)
    ({"algorithms": {"wgan_dcgan": {"model": {"critic_nrom": "layer"}}}},
     r"Additional properties are not allowed \('critic_nrom'.*\['wgan_dcgan'\]\['model'\]"),
    ({"algorithms": {"iml": {"model": {"tanh_bound": 1.5}}}}, r"1.5 is greater than or equal to the maximum of 1"),
])
def test_the_schema_refuses_a_bad_setting_naming_its_key(paper_config, override, expected):
    with pytest.raises(WorkflowError, match=re.compile(expected, re.S)):
        validate(merged(paper_config, override), SCHEMA)


def test_the_pool_sizes_check_covers_the_offline_pool(paper_config):
    sizes = {"train": None, "validation": None, "test": None}
    with pytest.raises(ValueError, match=r"config: data.mnist: .*leave the validation and train split empty"):
        read_config(paper_config, {"data": {"mnist": {"pool": "test_only", "sizes": sizes}}})


@pytest.mark.parametrize("override,expected", [
    ({"mnist": {"K": [20, -5]}}, r"-5 is less than the minimum of 1.*\['mnist'\]\['K'\]"),  # the schema
    ({"evaluate": {"n_samples": 500}}, r"evaluate.kde.paper.n_per_draw x n_draws needs 10000"),  # a cross-check
])
def test_the_workflow_refuses_a_bad_config_before_any_job(workdir, override, expected):
    (workdir / "bad.yaml").write_text(yaml.safe_dump(override))
    proc = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert re.search(expected, proc.stdout, re.S), proc.stdout[-3000:]
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


def expected_jobs(config):
    """{rule: jobs} a config asks for, counted from the config alone: each MNIST algorithm at each
    K and seed; each which-base variant (mnist.bases not trained themselves) at each of mnist.bases_K
    (else mnist.K) on IML's model; per audio dataset (the violin only with a recording) a run per
    audio algorithm and audio seed, one autoencoder per seed, the speech scores of every run of a
    spoken-digit (FSDD) dataset; no CELEB-A without its images."""
    m, seeds = config["mnist"], len(config["seeds"])
    audio = [d for d in config["audio"]["run"]
             if config["audio"]["datasets"][d]["source"] != "violin" or config["data"]["violin"]["source"]]
    speech = [d for d in audio if config["audio"]["datasets"][d]["source"] == "fsdd"]
    audio_seeds = {d: len(config["audio"]["seeds"].get(d, [0])) for d in audio}
    audio_runs = {d: n * len(config["audio"]["algorithms"]) for d, n in audio_seeds.items()}
    runs = len(m["algorithms"]) * len(m["K"]) * seeds
    variants = len([b for b in m["bases"] if b not in m["algorithms"]]) * len(m.get("bases_K") or m["K"]) * seeds
    invertible = len([a for a in m["algorithms"] if a == "iml"]) * len(m["K"]) * seeds + variants
    once = ["download_fsdd", "figure_toy2d", "preprocess_mnist", "figure_two_digits", "train_classifier",
            "quality_references", "audio_table", "figure_nearest", "make_figures", "make_tables", "table1",
            "which_base", "figure_memorisation", "verdict", "all"]
    per_audio_run = ["audio_scores", "generate_audio"]
    return {**dict.fromkeys(once, 1), **dict.fromkeys(["preprocess_audio", "audio_figures"], len(audio)),
            **dict.fromkeys(per_audio_run, sum(audio_runs.values())),
            "download_mnist": len(mnist.POOL_FILES[config["data"]["mnist"]["pool"]]),
            "speech_scores": sum(audio_runs[d] for d in speech), "train_speech_classifier": min(len(speech), 1),
            "train": runs + sum(audio_seeds.values()), "fit_base": runs + variants + sum(audio_runs.values()),
            "evaluate_exact": invertible, "evaluate_scored": runs - invertible + variants}


@pytest.mark.parametrize("preset", [None, "quick.yaml", "offline.yaml"])
def test_the_paper_config_and_presets_plan_the_jobs_their_settings_ask_for(workdir, paper_config, preset):
    extra = ["--configfile", f"presets/{preset}"] if preset else []
    proc = snakemake(workdir, "-n", *extra)
    stats = proc.stdout.split("Job stats:")[1].split("\n\n")[0]
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M) if rule != "total"}
    override = yaml.safe_load((REPO / "presets" / preset).read_text()) if preset else {}
    assert jobs == expected_jobs(read_config(paper_config, override))


def test_every_constructor_option_reaches_its_model(paper_config):
    """Options that only tests could set before (the DCGAN models' amp, likelihood_std and
    critic_norm, the invertible perceptron's tails), from the config to the model the train step
    builds (build_model with the algorithm's model settings)."""
    config = read_config(paper_config, {"algorithms": {
        "iml_dcgan": {"model": {"amp": True}},
        "vae_dcgan": {"model": {"likelihood_std": 0.5, "amp": True}},
        "wgan_dcgan": {"model": {"critic_norm": "layer", "gradient_penalty": 10.0, "optimizer": "adam"}},
        "iml": {"model": {"tanh_bound": 0.95, "sigmoid_eps": 1.0e-3}}}})

    def built(algorithm, data_dim):
        return build_model(algorithm, 8, data_dim, config["algorithms"][algorithm]["model"])

    assert built("iml_dcgan", 12288).amp is True
    vae = built("vae_dcgan", 12288)
    assert vae.likelihood_std == 0.5 and vae.amp is True
    wgan = built("wgan_dcgan", 12288)
    assert wgan.critic_norm == "layer" and wgan.gradient_penalty == 10.0
    assert any(isinstance(m, torch.nn.GroupNorm) for m in wgan.critic.modules())
    assert all(isinstance(o, torch.optim.Adam) for o in wgan.make_optimizers({"lr": 1e-4}).values())
    iml = built("iml", 784)
    assert torch.tanh(torch.tensor(iml.act_hidden.t_hi)).item() == pytest.approx(0.95)
    assert torch.sigmoid(torch.tensor(iml.act_output.t_hi)).item() == pytest.approx(1 - 1.0e-3)


def test_a_missing_celeba_partition_file_says_where_to_get_it(workdir):
    (workdir / "faces").mkdir(exist_ok=True)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(
        {"data": {"celeba": {"source": "faces", "partition": "list_eval_partition.txt"}}}))
    proc = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert re.search(r"partition file not found at list_eval_partition.txt. Download list_eval_partition.txt "
                     r"\(MD5 d32c9cbf5e040fd4025c592c306e6668\).*drive.google.com", proc.stdout), proc.stdout[-3000:]
