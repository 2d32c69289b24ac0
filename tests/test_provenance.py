"""Each run summary's provenance: the checkout's commit, the package versions, and a settings hash
that ignores key order and changes with any setting."""

import subprocess

from iml import provenance
from tests.helpers import REPO


def test_provenance_names_commit_versions_and_settings():
    settings = {"algorithm": {"train": {"epochs": 8}}, "evaluate": {"n_samples": 3000}}
    record = provenance.provenance(settings, "cpu")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    assert record["commit"] == head and isinstance(record["dirty"], bool)
    assert set(record["versions"]) == {"torch", "numpy", "scikit-learn", "hmmlearn", "zuko"}
    assert record["versions"]["numpy"] == __import__("numpy").__version__
    assert record["device"] == "cpu" and record["threads"] >= 1
    reordered = {"evaluate": {"n_samples": 3000}, "algorithm": {"train": {"epochs": 8}}}
    assert provenance.provenance(reordered, "cpu")["settings_hash"] == record["settings_hash"]
    other = {"algorithm": {"train": {"epochs": 9}}, "evaluate": {"n_samples": 3000}}
    assert provenance.provenance(other, "cpu")["settings_hash"] != record["settings_hash"]
