"""Where a result came from, recorded in each run summary: the commit and whether the tree had
uncommitted changes, the versions of the packages that shape the numbers, the device and thread
count, and a hash of the settings that produced it (seeds of one experiment share it)."""

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "numpy", "scikit-learn", "hmmlearn", "zuko")
PROJECT = Path(__file__).resolve().parents[1]


def _git(*args):
    """git's output in the project folder; None where there is no git or no repository (an
    installed copy): the summary then says the commit is unknown rather than failing the run."""
    try:
        done = subprocess.run(["git", *args], cwd=PROJECT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance(settings, device):
    """The provenance record of a result produced with `settings` on `device`."""
    import torch

    from iml.training import fingerprint

    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": _git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status),
            "versions": {p: _version(p) for p in PACKAGES}, "device": str(device),
            "threads": torch.get_num_threads(), "settings_hash": fingerprint(settings)}
