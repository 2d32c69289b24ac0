"""Base distributions by config name; each has fit(codes, lengths=None, validation=None),
sample(n), score_samples(codes) (per row) and score(codes) (their mean), and takes random_state
(scikit-learn's names). Bases that choose something (gmm auto, kde, flow) choose it on the
validation codes.

A fitted base is stored as one .npz of arrays (its fitted parameters) and a JSON header (its name,
settings and random generator state): no pickle, so loading a planted file runs no code.
"""

import importlib
import json
from collections.abc import Mapping

import numpy as np

from iml.io import save_npz


class _Registry(Mapping):
    """{config name: base class}, each module imported when its class is first asked for, so a step
    that loads a GMM does not import the flow's or the HMM's libraries (zuko, hmmlearn)."""

    def __init__(self, paths):
        self._paths = paths

    def __getitem__(self, name):
        module, cls = self._paths[name].split(":")
        return getattr(importlib.import_module(module), cls)

    def __iter__(self):
        return iter(self._paths)

    def __len__(self):
        return len(self._paths)


BASES = _Registry({"dpgmm": "iml.bases.dpgmm:DirichletProcessMixtureBase", "flow": "iml.bases.flow:FlowBase",
                   "gaussian": "iml.bases.gaussian:GaussianBase", "gmm": "iml.bases.gmm:GaussianMixtureBase",
                   "hmm": "iml.bases.hmm:GaussianHMMBase", "kde": "iml.bases.kde:KernelDensityBase",
                   "standard_normal": "iml.bases.gaussian:StandardNormalBase"})


class OldBaseFileError(ValueError):
    pass


def build_base(name, settings, random_state):
    if name not in BASES:
        raise ValueError(f"unknown base distribution {name!r}; known: {sorted(BASES)}")
    return BASES[name](**settings, random_state=random_state)


def save_base(path, name, base):
    header = {"base": name, "settings": base.settings(), "rng": base.rng.bit_generator.state}
    save_npz(path, header=np.array(json.dumps(header)), **base.fitted_arrays())


def load_base(path):
    """A base written by save_base; a file that is not one is refused by name."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        header = json.loads(str(arrays.pop("header")))
        settings = dict(header["settings"])
        if "seed" in settings:  # saved before bases took scikit-learn's random_state
            raise OldBaseFileError(f"{path}: a base saved with the old setting 'seed' (now random_state); "
                                   "rerun the workflow's fit_base to regenerate it")
        base = build_base(header["base"], settings, settings.pop("random_state"))
    except OldBaseFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a base distribution written by save_base ({type(err).__name__}: {err})") from err
    base.rng.bit_generator.state = header["rng"]
    return base.set_fitted(arrays)
