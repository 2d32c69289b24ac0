"""The fixed N(0, I) base of VAEs and GANs: nothing to fit."""

import numpy as np

from iml.bases.base import BaseDistribution, check_codes


class StandardNormalBase(BaseDistribution):
    def __init__(self, random_state: int = 0):
        self.random_state = random_state
        self.rng = np.random.default_rng(random_state)
        self.dim = None

    def fit(self, codes, lengths=None):
        self.dim = check_codes(codes, "codes given to the N(0, I) base").shape[1]
        return self

    def sample(self, n):
        return self.rng.standard_normal((n, self.dim)), None

    def score_samples(self, codes):
        codes = check_codes(codes, "codes scored by the N(0, I) base")
        return -0.5 * (codes**2).sum(1) - 0.5 * codes.shape[1] * np.log(2 * np.pi)

    def settings(self):
        return {"random_state": self.random_state}

    def fitted_arrays(self):
        return {"dim": np.array(self.dim)}

    def set_fitted(self, arrays):
        self.dim = int(arrays["dim"])
        return self
