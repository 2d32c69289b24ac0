"""Base distributions by config name; each has fit(codes, lengths=None), sample(n), score(codes).

The newer bases follow scikit-learn's names: fit(codes, lengths=None, validation=None),
score_samples(codes) (per-row log-density), score(codes) (its mean), random_state.

A fitted base is stored as one .npz of arrays (its fitted parameters) and a JSON header (its name,
settings and random generator state): no pickle, so loading a planted file runs no code.
"""

import inspect
import json

import numpy as np

from iml.io import save_npz

from iml.bases.dpgmm import DirichletProcessMixtureBase
from iml.bases.flow import FlowBase
from iml.bases.gaussian import GaussianBase, StandardNormalBase
from iml.bases.gmm import GaussianMixtureBase
from iml.bases.hmm import GaussianHMMBase
from iml.bases.kde import KernelDensityBase

BASES = {"dpgmm": DirichletProcessMixtureBase, "flow": FlowBase, "gaussian": GaussianBase,
         "gmm": GaussianMixtureBase, "hmm": GaussianHMMBase, "kde": KernelDensityBase,
         "standard_normal": StandardNormalBase}


def _seed_argument(cls):
    # the newer bases take scikit-learn's random_state, the older ones seed (until all are converted)
    return "random_state" if "random_state" in inspect.signature(cls).parameters else "seed"


def build_base(name, settings, seed):
    try:
        cls = BASES[name]
    except KeyError:
        raise ValueError(f"unknown base distribution {name!r}; known: {sorted(BASES)}") from None
    return cls(**settings, **{_seed_argument(cls): seed})


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
        base = build_base(header["base"], settings, settings.pop(_seed_argument(BASES[header["base"]])))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a base distribution written by save_base ({type(err).__name__}: {err})") from err
    base.rng.bit_generator.state = header["rng"]
    return base.set_fitted(arrays)
