"""The config's cross-field checks, called in-process on the paper's config and the presets."""

import copy
import re

import pytest
import yaml

from iml.config_checks import check_config
from tests.helpers import REPO


def merged(base, override):
    """`base` updated by `override` key by key, as Snakemake merges config files."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def paper_config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.mark.parametrize("preset", [None, "quick.yaml", "offline.yaml", "audio_paper.yaml"])
def test_the_paper_config_and_presets_pass(paper_config, preset):
    override = yaml.safe_load((REPO / "presets" / preset).read_text()) if preset else {}
    check_config(merged(paper_config, override), project=REPO)


@pytest.mark.parametrize("override,expected", [
    ({"evaluate": {"n_samples": 500}}, r"evaluate.kde.paper.n_per_draw x n_draws needs 10000 .*evaluate.n_samples is 500"),
    ({"evaluate": {"kde": {"standard": {"sigma_grid": {"min": 2.0}}}}}, r"sigma_grid.min is larger than its max"),
    ({"data": {"celeba": {"source": "faces"}}, "celeba": {"algorithms": ["vae_dcgan"]}},
     r"celeba.algorithms needs iml_dcgan"),
    ({"figures": {"nearest": {"K": 30}}}, r"figures.nearest.K must be one of mnist.K"),
    ({"audio": {"run": ["fsdd_all", "fsdd_digit9"]}}, r"audio.run names 'fsdd_digit9' but audio.datasets.fsdd_digit9"),
    ({"mnist": {"bases": ["iml", "iml_nothing"]}}, r"mnist.bases names 'iml_nothing' but algorithms.iml_nothing"),
    ({"mnist": {"bases": ["iml", "vae"]}}, r"mnist.bases \['vae'\] do not use IML's trained model"),
    ({"mnist": {"bases_K": [20, 30]}}, r"mnist.bases_K \[30\] not in mnist.K"),
    ({"mnist": {"bases_K": [40]}, "figures": {"which_base": {"K": 20}}},
     r"figures.which_base.K \(20\) must be one of mnist.bases_K"),
    ({"data": {"mnist": {"sizes": {"train": None, "validation": None, "test": None}}}},
     r"config: data.mnist: .*leave the train split empty"),
    ({"audio": {"chunk": {"size": 800, "hop": 1000}}}, r"audio.chunk.hop \(1000\) is larger than audio.chunk.size"),
    ({"algorithms": {"iml": {"model": {"hidden": 100}}}}, r"mnist.K \[120, 140\] larger than algorithms.iml.model.hidden"),
])
def test_a_bad_setting_is_refused_naming_its_key(paper_config, override, expected):
    with pytest.raises(ValueError, match=re.compile(expected, re.S)):
        check_config(merged(paper_config, override), project=REPO)


def test_results_dir_through_a_symlink_out_of_the_project_is_refused(paper_config, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "linked").symlink_to(tmp_path)
    with pytest.raises(ValueError, match=r"results_dir 'linked/results' resolves to .* outside the project"):
        check_config(paper_config | {"results_dir": "linked/results"}, project=project)


@pytest.mark.parametrize("override,expected", [
    ({"seeds": [0, 4294967296]}, r"config: seeds: seed 4294967296 is outside 0..4294967295"),
    ({"audio": {"datasets": {"fsdd_all": {"seed": 2**40}}}}, r"config: audio.datasets.fsdd_all.seed: seed 1099511627776"),
    ({"bases": {"gmm": {"n_components": 30, "max_codes": 20}}},
     r"config: bases.gmm.n_components \(30\) is larger than bases.gmm.max_codes \(20\)"),
    ({"algorithms": {"iml_dcgan": {"base_settings": {"n_components": 50, "max_codes": 40}}}},
     r"algorithms.iml_dcgan.base_settings.n_components \(50\) is larger than .*max_codes \(40\)"),
    ({"data": {"mnist": {"pool": "test_only", "sizes": {"train": 4000, "validation": 500, "test": 8}}}},
     r"config: figures.nearest.n_images \(10\) is larger than the MNIST test split \(8 images"),
    ({"evaluate": {"n_samples": 10**12}}, r"config: evaluate.n_samples \(1000000000000\) needs about 5.84e\+06 GiB"),
    ({"results_dir": "iml"}, r"results_dir 'iml' overlaps the project's iml/ folder"),
    ({"results_dir": "docs/runs/new"}, r"results_dir 'docs/runs/new' overlaps the project's docs/ folder"),
    ({"results_dir": "."}, r"results_dir '.' overlaps the project's iml/ folder"),
])
def test_a_setting_that_would_fail_late_is_refused_naming_its_key(paper_config, override, expected):
    with pytest.raises(ValueError, match=expected):
        check_config(merged(paper_config, override), project=REPO)


@pytest.mark.parametrize("override,key", [({"device": "cuda:3"}, "device"),
                                          ({"bases": {"flow": {"device": "cuda"}}}, "bases.flow.device")])
def test_a_cuda_device_on_a_machine_without_cuda_is_refused(paper_config, override, key):
    with pytest.raises(ValueError, match=rf"config: {re.escape(key)}: 'cuda.*' but this machine has no CUDA"):
        check_config(merged(paper_config, override), project=REPO, cuda_devices=0)


def test_a_cuda_device_beyond_the_machines_is_refused(paper_config):
    with pytest.raises(ValueError, match=r"config: device: 'cuda:3' but this machine has 2 CUDA device\(s\)"):
        check_config(merged(paper_config, {"device": "cuda:3"}), project=REPO, cuda_devices=2)
    check_config(merged(paper_config, {"device": "cuda:1"}), project=REPO, cuda_devices=2)
