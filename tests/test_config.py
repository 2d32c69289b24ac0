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
