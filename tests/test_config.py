import re

import pytest
import yaml

from tests.helpers import copy_workflow, snakemake


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf"))


@pytest.mark.parametrize("override,expected", [
    ({"mnist": {"K": [20, -5]}}, r"-5 is less than the minimum of 1.*\['mnist'\]\['K'\]"),
    ({"mnist": {"algorithms": ["iml", "flow"]}}, r"'flow' is not one of.*\['mnist'\]\['algorithms'\]"),
    ({"results_dir": "../elsewhere"}, r"does not match.*\['results_dir'\]"),
    ({"results_dir": "/tmp/abs"}, r"does not match.*\['results_dir'\]"),
    ({"algorithms": {"iml": {"train": {"epochs": "ten"}}}}, r"'ten' is not of type 'integer'.*\['epochs'\]"),
    ({"bases": {"gmm": {"n_componets": 3}}}, r"Additional properties are not allowed \('n_componets'"),
    ({"evaluate": {"n_samples": 500}}, r"evaluate.kde.paper.n_per_draw x n_draws needs 10000"),
    # settings that used to pass validation and fail late (or silently)
    ({"algorithms": {"iml": {"base_settings": {"n_componets": 3}}}},
     r"Additional properties are not allowed \('n_componets'.*\['iml'\]\['base_settings'\]"),
    ({"algorithms": {"iml_audio": {"base_settings": {"n_components": 3}}}},
     r"Additional properties are not allowed \('n_components'.*\['iml_audio'\]\['base_settings'\]"),
    ({"data": {"mnist": {"pool": "test_only", "sizes": {"train": None, "validation": None, "test": None}}}},
     r"config: data.mnist: .*leave the validation and train split empty"),
    ({"data": {"mnist": {"sizes": {"train": None, "validation": None, "test": None}}}},
     r"config: data.mnist: .*leave the train split empty"),
    ({"audio": {"datasets": {"celeba": {"source": "fsdd", "digits": None, "n_utterances": None,
                                        "held_out_speakers": ["theo"], "seed": 0}}}},
     r"'celeba' does not match.*\['audio'\]\['datasets'\]"),
    ({"audio": {"chunk": {"size": 800, "hop": 1000}}}, r"audio.chunk.hop \(1000\) is larger than audio.chunk.size"),
    ({"audio": {"sequence": "joined"}}, r"'joined' is not one of \['concatenated', 'per_recording'\].*\['sequence'\]"),
    ({"bases": {"hmm": {"sequence": "per_recording"}}}, r"bases.hmm.sequence: the HMM's training sequence is audio"),
    ({"algorithms": {"iml": {"model": {"hidden": 100}}}}, r"mnist.K \[120, 140\] larger than algorithms.iml.model.hidden"),
    ({"results_dir": "results_{x}"}, r"'results_\{x\}' does not match.*\['results_dir'\]"),
    # a misspelt model setting (the schema is checked against the constructors by tests/test_settings.py)
    ({"algorithms": {"wgan_dcgan": {"model": {"critic_nrom": "layer"}}}},
     r"Additional properties are not allowed \('critic_nrom'.*\['wgan_dcgan'\]\['model'\]"),
    ({"algorithms": {"iml": {"model": {"tanh_bound": 1.5}}}}, r"1.5 is greater than or equal to the maximum of 1"),
    # iml/config_checks.py's checks (each tested in-process by tests/test_config_checks.py) run before any job
    ({"seeds": [4294967296]}, r"config: seeds: seed 4294967296 is outside 0..4294967295"),
])
def test_bad_config_is_refused_before_any_job(workdir, override, expected):
    (workdir / "bad.yaml").write_text(yaml.safe_dump(override))
    proc = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert re.search(expected, proc.stdout, re.S), proc.stdout[-3000:]
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


def test_paper_and_presets_are_valid(workdir):
    for extra in ([], ["--configfile", "presets/quick.yaml"], ["--configfile", "presets/offline.yaml"]):
        proc = snakemake(workdir, "-n", *extra)
        assert "train" in proc.stdout


def test_every_constructor_option_is_reachable_from_the_config(workdir):
    """Options that only tests could set before: the DCGAN models' amp, likelihood_std and
    critic_norm, the invertible perceptron's tails."""
    (workdir / "options.yaml").write_text(yaml.safe_dump({"algorithms": {
        "iml_dcgan": {"model": {"amp": True}},
        "vae_dcgan": {"model": {"likelihood_std": 0.5, "amp": True}},
        "wgan_dcgan": {"model": {"critic_norm": "layer", "gradient_penalty": 10.0, "optimizer": "adam"}},
        "iml": {"model": {"tanh_bound": 0.95, "sigmoid_eps": 1.0e-3}}}}))
    proc = snakemake(workdir, "-n", "--configfile", "options.yaml")
    assert "train" in proc.stdout


def test_results_dir_through_a_symlink_out_of_the_project_is_refused(workdir, tmp_path):
    (workdir / "linked").symlink_to(tmp_path)
    (workdir / "bad.yaml").write_text(yaml.safe_dump({"results_dir": "linked/results"}))
    proc = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    (workdir / "linked").unlink()
    assert proc.returncode != 0
    assert re.search(rf"results_dir 'linked/results' resolves to {tmp_path}/results .*outside the project",
                     proc.stdout), proc.stdout[-3000:]
    assert list(tmp_path.iterdir()) == []


def test_a_missing_celeba_partition_file_says_where_to_get_it(workdir):
    (workdir / "faces").mkdir(exist_ok=True)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(
        {"data": {"celeba": {"source": "faces", "partition": "list_eval_partition.txt"}}}))
    proc = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert re.search(r"partition file not found at list_eval_partition.txt. Download list_eval_partition.txt "
                     r"\(MD5 d32c9cbf5e040fd4025c592c306e6668\).*drive.google.com", proc.stdout), proc.stdout[-3000:]
