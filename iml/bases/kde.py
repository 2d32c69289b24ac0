"""A Gaussian kernel density on the codes (the RAE's ex-post density): one kernel N(h_m, σ² I) per
training code, σ chosen on validation codes; scored with the project's blocked KDE."""

import logging
from typing import Optional

import numpy as np

from iml.bases.base import BaseDistribution, check_codes, standardisation, training_and_validation
from iml.device import pick_device
from iml.metrics.kde import kde_log_likelihood

log = logging.getLogger(__name__)

# without a grid: σ from 2% to 2x the codes' mean per-dimension standard deviation, geometric
RELATIVE_BANDWIDTH_GRID = np.geomspace(0.02, 2.0, 25)


class KernelDensityBase(BaseDistribution):
    """bandwidth_grid: the σ candidates (code units), or None for RELATIVE_BANDWIDTH_GRID times the
    training codes' mean per-dimension standard deviation. σ maximises the mean log-density of the
    validation codes (those given to fit, else a seeded 10% held out) under kernels at the other
    training codes; the fitted density then puts a kernel at every training code. max_centres
    caps the kernels at a seeded subset (None: all). device: "auto" (CUDA when present), "cpu", "cuda".

    Fitted: centres_ (M, D), bandwidth_, bandwidth_grid_, validation_scores_ (one per σ)."""

    def __init__(self, bandwidth_grid: Optional[tuple[float, ...]] = None, max_centres: Optional[int] = None,
                 device: str = "auto", random_state: int = 0):
        if bandwidth_grid is not None and (len(bandwidth_grid) == 0 or min(bandwidth_grid) <= 0):
            raise ValueError(f"KDE bandwidth_grid must list positive widths, got {bandwidth_grid!r}")
        self.bandwidth_grid = None if bandwidth_grid is None else [float(s) for s in bandwidth_grid]
        self.max_centres, self.device, self.random_state = max_centres, device, random_state
        self.rng = np.random.default_rng(random_state)

    def fit(self, codes, lengths=None, validation=None):
        codes = check_codes(codes, "codes given to the KDE fit")
        if self.max_centres is not None and len(codes) > self.max_centres:
            codes = codes[self.rng.choice(len(codes), self.max_centres, replace=False)]
        train, held_out = training_and_validation(codes, validation, self.rng, "KDE base")
        if len(train) < 2:
            raise ValueError(f"KDE base: too few codes: {len(codes)} given, {len(train)} left to place kernels at "
                             "after holding out validation codes; the bandwidth is chosen from at least 2")
        _, std = standardisation(train, "KDE base: training codes")
        self.bandwidth_grid_ = (RELATIVE_BANDWIDTH_GRID * std.mean() if self.bandwidth_grid is None
                                else np.array(self.bandwidth_grid))
        self.validation_scores_ = self._log_density(held_out, train, self.bandwidth_grid_).mean(1)
        best = int(np.argmax(self.validation_scores_))
        self.bandwidth_ = float(self.bandwidth_grid_[best])
        if best in (0, len(self.bandwidth_grid_) - 1):
            log.warning("KDE base: the chosen bandwidth %.4g is at the edge of the grid [%.4g, %.4g]; widen it",
                        self.bandwidth_, self.bandwidth_grid_[0], self.bandwidth_grid_[-1])
        self.centres_ = codes
        log.info("KDE base: bandwidth %.4g chosen on %d validation codes (mean log-density %.4f); %d kernels of "
                 "dimension %d", self.bandwidth_, len(held_out), self.validation_scores_[best], *codes.shape)
        return self

    def _log_density(self, codes, centres, sigma):
        return kde_log_likelihood(codes, centres, sigma, "mean", device=pick_device(self.device))

    def sample(self, n):
        """n codes, each a random training code plus N(0, σ² I) noise, and the index of that code."""
        picks = self.rng.integers(len(self.centres_), size=n)
        return self.centres_[picks] + self.bandwidth_ * self.rng.standard_normal((n, self.centres_.shape[1])), picks

    def score_samples(self, codes):
        return self._log_density(check_codes(codes, "codes scored by the KDE base"), self.centres_, self.bandwidth_)

    def fitted_summary(self):
        return {"bandwidth": self.bandwidth_, "n_centres": len(self.centres_)}

    def settings(self):
        return {"bandwidth_grid": self.bandwidth_grid, "max_centres": self.max_centres, "device": self.device,
                "random_state": self.random_state}

    def fitted_arrays(self):
        return {"centres_": self.centres_, "bandwidth_": np.array(self.bandwidth_),
                "bandwidth_grid_": self.bandwidth_grid_, "validation_scores_": self.validation_scores_}

    def set_fitted(self, arrays):
        self.centres_, self.bandwidth_grid_ = arrays["centres_"], arrays["bandwidth_grid_"]
        self.bandwidth_, self.validation_scores_ = float(arrays["bandwidth_"]), arrays["validation_scores_"]
        return self
