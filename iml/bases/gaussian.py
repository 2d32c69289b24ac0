"""Single-Gaussian bases: the fixed N(0, I) of VAEs and GANs (nothing to fit), and one
full-covariance Gaussian fitted by maximum likelihood."""

import logging

import numpy as np

from iml.bases.base import BaseDistribution, check_codes

log = logging.getLogger(__name__)


class StandardNormalBase(BaseDistribution):
    def __init__(self, random_state: int = 0):
        self.random_state = random_state
        self.rng = np.random.default_rng(random_state)
        self.dim = None

    def fit(self, codes, lengths=None, validation=None):
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


class GaussianBase(BaseDistribution):
    """N(μ, Σ + ridge·I) with μ, Σ the maximum-likelihood mean and covariance of the codes (Σ divides
    by n); the ridge keeps Σ invertible when codes span fewer dimensions than they have.

    Fitted: mean_, covariance_ (ridge included), cholesky_ (its lower Cholesky factor)."""

    def __init__(self, ridge: float = 1e-6, random_state: int = 0):
        if ridge < 0:
            raise ValueError(f"Gaussian base ridge must be >= 0, got {ridge}")
        self.ridge, self.random_state = ridge, random_state
        self.rng = np.random.default_rng(random_state)

    def fit(self, codes, lengths=None, validation=None):
        codes = check_codes(codes, "codes given to the Gaussian base fit")
        if len(codes) < 1:
            raise ValueError("the Gaussian base needs at least one code to fit")
        self.mean_ = codes.mean(0)
        centred = codes - self.mean_
        self.covariance_ = centred.T @ centred / len(codes) + self.ridge * np.eye(codes.shape[1])
        try:
            self.cholesky_ = np.linalg.cholesky(self.covariance_)
        except np.linalg.LinAlgError:
            raise ValueError(f"Gaussian base: the covariance of {len(codes)} codes is singular; "
                             f"raise the ridge (now {self.ridge})") from None
        log.info("Gaussian base fitted on %d codes of dimension %d: mean log-likelihood %.4f",
                 len(codes), codes.shape[1], self.score(codes))
        return self

    def sample(self, n):
        noise = self.rng.standard_normal((n, len(self.mean_)))
        return self.mean_ + noise @ self.cholesky_.T, None

    def score_samples(self, codes):
        codes = check_codes(codes, "codes scored by the Gaussian base")
        from scipy.linalg import solve_triangular

        whitened = solve_triangular(self.cholesky_, (codes - self.mean_).T, lower=True)
        log_det = 2 * np.log(np.diag(self.cholesky_)).sum()
        return -0.5 * ((whitened**2).sum(0) + log_det + codes.shape[1] * np.log(2 * np.pi))

    def settings(self):
        return {"ridge": self.ridge, "random_state": self.random_state}

    def fitted_arrays(self):
        return {"mean_": self.mean_, "covariance_": self.covariance_, "cholesky_": self.cholesky_}

    def set_fitted(self, arrays):
        self.mean_, self.covariance_, self.cholesky_ = arrays["mean_"], arrays["covariance_"], arrays["cholesky_"]
        return self
