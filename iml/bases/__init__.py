"""Base distributions by config name; each has fit(codes, lengths=None), sample(n), score(codes)."""

from iml.bases.gaussian import StandardNormalBase
from iml.bases.gmm import GaussianMixtureBase
from iml.bases.hmm import GaussianHMMBase

BASES = {"gmm": GaussianMixtureBase, "hmm": GaussianHMMBase, "standard_normal": StandardNormalBase}


def build_base(name, settings, seed):
    try:
        cls = BASES[name]
    except KeyError:
        raise ValueError(f"unknown base distribution {name!r}; known: {sorted(BASES)}") from None
    return cls(**settings, seed=seed)
