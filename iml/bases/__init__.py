"""Base distributions by config name. What each can do is declared here, in BASES (a BaseSpec
per base), and the workflow asks the registry instead of probing a base or reading its name.
The registry imports no base's module (nor sklearn, torch, zuko or hmmlearn) until a base is
built: the Snakefile and the tables read it.

Every base is a BaseDistribution (iml.bases.base, where its interface is stated once): fit(codes,
lengths=None, validation=None), sample(n), score_samples(codes) (per row) and score(codes) (their
mean), and takes random_state (scikit-learn's names).

A fitted base is stored as one .npz of arrays (its fitted parameters) and a JSON header (its name,
settings and random generator state): no pickle, so loading a planted file runs no code.
"""

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np

from iml.io import save_npz


def _gmm_note(fit):
    """A GMM's fit in the captions' words, from its settings (config) or its summary (base.json)."""
    return (f"{fit['n_components']}-component {fit['covariance_type']} GMM fitted on {fit['max_codes'] or 'all'} "
            "training codes")


@dataclass(frozen=True)
class BaseSpec:
    path: str  # "module:class" of the base
    title: str  # the base in a caption's words
    choice: Callable[[dict], str]  # what the fit chose or kept, in words, from its summary (base.json)
    validation: bool = False  # it chooses something on validation codes: fit_base gives it the validation split's
    sequential: bool = False  # it models sequences: fit and score take lengths, sample_sequences(n) gives chains
    note: Optional[Callable[[dict], str]] = None  # its fit in table captions, from its settings or summary
    components: Optional[Literal["mixture", "kernels"]] = None  # what the memorisation audit counts as its components

    @property
    def builder(self):
        module, name = self.path.split(":")
        return getattr(importlib.import_module(module), name)


BASES = {
    "standard_normal": BaseSpec("iml.bases.gaussian:StandardNormalBase", "N(0, I)", lambda fit: "fixed"),
    "gaussian": BaseSpec("iml.bases.gaussian:GaussianBase", "a full-covariance Gaussian",
                         lambda fit: "maximum likelihood"),
    "gmm": BaseSpec("iml.bases.gmm:GaussianMixtureBase", "a GMM",
                    lambda fit: f"{fit['n_components']} components on {fit['max_codes'] or 'all'} codes",
                    validation=True, note=_gmm_note, components="mixture"),  # validation: n_components auto
    "kde": BaseSpec("iml.bases.kde:KernelDensityBase", "a kernel density", lambda fit: f"bandwidth {fit['bandwidth']:.3g}",
                    validation=True, components="kernels"),
    "flow": BaseSpec("iml.bases.flow:FlowBase", "a normalizing flow",
                     lambda fit: f"epoch {fit['best_epoch']} of {fit['epochs_run']}",
                     validation=True),
    "dpgmm": BaseSpec("iml.bases.dpgmm:DirichletProcessMixtureBase", "a Dirichlet-process GMM",
                      lambda fit: f"kept {fit['n_active_components']} of {fit['n_components']} components",
                      components="mixture"),
    "hmm": BaseSpec("iml.bases.hmm:GaussianHMMBase", "a Gaussian HMM",
                    lambda fit: f"EM {fit['em_iterations']}" + ("" if fit["converged"] else " (not converged)"),
                    sequential=True),
}


def spec(name):
    """The BaseSpec of a config base name."""
    try:
        return BASES[name]
    except KeyError:
        raise ValueError(f"unknown base distribution {name!r}; known: {sorted(BASES)}") from None


def spec_of(base):
    """The BaseSpec of a base object (a loaded one, whose config name is not at hand)."""
    path = f"{type(base).__module__}:{type(base).__qualname__}"
    try:
        return next(s for s in BASES.values() if s.path == path)
    except StopIteration:
        raise ValueError(f"{path} is not a registered base distribution") from None


def caption_notes(fits):
    """{algorithm: its base's fit in the captions' words} for the bases with a caption note;
    `fits` is {algorithm: (base name, its settings or its base.json summary)}."""
    return {algorithm: spec(name).note(fit) for algorithm, (name, fit) in fits.items() if spec(name).note}


def build_base(name, settings, random_state):
    return spec(name).builder(**settings, random_state=random_state)


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
        base = build_base(header["base"], settings, settings.pop("random_state"))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a base distribution written by save_base ({type(err).__name__}: {err})") from err
    base.rng.bit_generator.state = header["rng"]
    return base.set_fitted(arrays)
