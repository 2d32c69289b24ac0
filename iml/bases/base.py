"""The interface every base distribution p_φ(h) shares."""

import numpy as np


class NonFiniteCodesError(ValueError):
    pass


def check_codes(codes, where="codes"):
    """Codes enter a base as a finite 2-D float64 array; anything else is refused by name."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"{where}: expected a 2-D array of codes, got shape {codes.shape}")
    bad = ~np.isfinite(codes).all(axis=1)
    if bad.any():
        raise NonFiniteCodesError(
            f"{where}: {int(bad.sum())} of {len(codes)} codes contain NaN or inf "
            f"(first at row {int(np.flatnonzero(bad)[0])}); the encoder diverged or the data is corrupt"
        )
    return codes


class BaseDistribution:
    """fit(codes, lengths=None) -> self; sample(n) -> (codes, component labels or None);
    score_samples(codes) -> per-row log-density; score(codes) -> their mean (scikit-learn's names).
    `lengths` splits codes into sequences for sequential bases. The constructor's random_state
    (an int) seeds every random choice."""

    def fit(self, codes, lengths=None):
        raise NotImplementedError

    def sample(self, n):
        raise NotImplementedError

    def score_samples(self, codes):
        raise NotImplementedError

    def score(self, codes):
        """Mean log-density per row, as scikit-learn's score."""
        return float(np.mean(self.score_samples(codes)))

    # storage (iml.bases.save_base / load_base): settings as JSON, the fit as arrays, no pickle

    def settings(self):
        """The constructor's keyword arguments (JSON values)."""
        raise NotImplementedError

    def fitted_arrays(self):
        """The fitted parameters, {name: array}."""
        raise NotImplementedError

    def set_fitted(self, arrays):
        """Restore what fitted_arrays() gave; returns self."""
        raise NotImplementedError
