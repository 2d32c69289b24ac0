"""The interface every base distribution p_φ(h) shares."""

import logging

import numpy as np

log = logging.getLogger(__name__)

HELD_OUT_FRACTION = 0.1


# a dimension whose spread is below this fraction of the codes' scale is constant up to rounding
RELATIVE_STD_TOLERANCE = 1e-6


class NonFiniteCodesError(ValueError):
    pass


class ConstantDimensionsError(ValueError):
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


def standardisation(codes, who):
    """(mean, std) per dimension of the codes a base standardises by. A dimension whose std is within
    RELATIVE_STD_TOLERANCE of the codes' scale (its |mean|, or the largest std of any dimension) is
    refused by name: its density is a spike, and dividing rounding noise by its std would credit
    each code with -log(std) nats (about 33 per dimension at float64 rounding) out of nothing."""
    mean, std = codes.mean(0), codes.std(0)
    scale = np.maximum(np.abs(mean), std.max())
    flat = np.flatnonzero(std <= RELATIVE_STD_TOLERANCE * scale)
    if flat.size:
        shown = ", ".join(f"{d} (std {std[d]:.3g}, mean {mean[d]:.3g})" for d in flat[:10])
        raise ConstantDimensionsError(
            f"{who}: {flat.size} of the {codes.shape[1]} code dimensions are constant up to rounding (std at "
            f"most {RELATIVE_STD_TOLERANCE:g} of the codes' scale), so they have no density: dimension(s) "
            f"{shown}{' ...' if flat.size > 10 else ''} over {len(codes)} codes; drop them or fit more varied codes")
    return mean, std


def training_and_validation(codes, validation, rng, who):
    """(training codes, validation codes) for a base that selects something on held-out codes: the
    validation codes given, else a seeded 10% of `codes` held out (and the rest trained on)."""
    if validation is not None:
        validation = check_codes(validation, f"validation codes given to the {who}")
        if validation.shape[1] != codes.shape[1]:
            raise ValueError(f"{who}: validation codes have {validation.shape[1]} dimensions, "
                             f"training codes {codes.shape[1]}")
        return codes, validation
    n_held = max(1, int(round(HELD_OUT_FRACTION * len(codes))))
    if len(codes) - n_held < 1:
        raise ValueError(f"{who}: {len(codes)} codes are too few to hold out validation codes from")
    order = rng.permutation(len(codes))
    log.info("%s: no validation codes given; holding out a seeded %d of the %d training codes (%.0f%%)",
             who, n_held, len(codes), 100 * HELD_OUT_FRACTION)
    return codes[order[n_held:]], codes[order[:n_held]]


class BaseDistribution:
    """sample(n) -> (codes, component labels or None); score_samples(codes) -> per-row
    log-density; score(codes) -> their mean (scikit-learn's names). The constructor's random_state
    (an int) seeds every random choice. What a base can do beyond this is declared in its
    iml.bases.BaseSpec, not probed: a sequential base also takes lengths when scoring and has
    sample_sequences(n)."""

    def fit(self, codes, lengths=None, validation=None):
        """Fit on `codes` (n, D) and return self; the one fit contract of every base.

        lengths: the sequence lengths the codes split into (summing to n; None: one sequence),
        modelled by a sequential base (BaseSpec.sequential) and ignored by the others.
        validation: codes held out of the fit, on which a base that chooses something
        (BaseSpec.validation: a number of components, a bandwidth, an epoch) chooses it; without
        them it holds out a seeded HELD_OUT_FRACTION of `codes` (training_and_validation). A base
        that chooses nothing ignores them."""
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

    def fitted_summary(self):
        """What the fit chose or kept, in a few JSON values, for the tables (none for a fixed base)."""
        return {}
