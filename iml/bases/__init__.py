"""Base distributions by config name; each has fit(codes, lengths=None, validation=None),
sample(n), score_samples(codes) (per row) and score(codes) (their mean), and takes random_state
(scikit-learn's names). Bases that choose something (gmm auto, kde, flow) choose it on the
validation codes.

A fitted base is stored as one .npz of arrays (its fitted parameters) and a JSON header (its name,
settings and random generator state): no pickle, so loading a planted file runs no code.
"""

import json

import numpy as np

from iml.bases.dpgmm import DirichletProcessMixtureBase
from iml.bases.flow import FlowBase
from iml.bases.gaussian import GaussianBase, StandardNormalBase
from iml.bases.gmm import GaussianMixtureBase
from iml.bases.hmm import GaussianHMMBase
from iml.bases.kde import KernelDensityBase
from iml.io import save_npz

BASES = {"dpgmm": DirichletProcessMixtureBase, "flow": FlowBase, "gaussian": GaussianBase,
         "gmm": GaussianMixtureBase, "hmm": GaussianHMMBase, "kde": KernelDensityBase,
         "standard_normal": StandardNormalBase}


class OldBaseFileError(ValueError):
    pass


def build_base(name, settings, random_state):
    try:
        cls = BASES[name]
    except KeyError:
        raise ValueError(f"unknown base distribution {name!r}; known: {sorted(BASES)}") from None
    return cls(**settings, random_state=random_state)


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
