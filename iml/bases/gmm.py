"""A Gaussian mixture base (scikit-learn), full covariances by default."""

import logging
from typing import Literal, Optional

import numpy as np
from sklearn.mixture import GaussianMixture

from iml.bases.base import BaseDistribution, check_codes

log = logging.getLogger(__name__)


class GaussianMixtureBase(BaseDistribution):
    def __init__(self, n_components: int = 30, covariance_type: Literal["full", "tied", "diag", "spherical"] = "full",
                 n_init: int = 1, max_iter: int = 200, reg_covar: float = 1e-6, max_codes: Optional[int] = None,
                 random_state: int = 0):
        self.max_codes, self.random_state = max_codes, random_state
        self.rng = np.random.default_rng(random_state)
        self.mixture = GaussianMixture(
            n_components=n_components, covariance_type=covariance_type, n_init=n_init,
            max_iter=max_iter, reg_covar=reg_covar, random_state=random_state,
        )

    def fit(self, codes, lengths=None):
        codes = check_codes(codes, "codes given to the GMM fit")
        if self.max_codes is not None and len(codes) > self.max_codes:
            codes = codes[self.rng.choice(len(codes), self.max_codes, replace=False)]
        if len(codes) < self.mixture.n_components:
            raise ValueError(
                f"GMM with {self.mixture.n_components} components needs at least that many codes, got {len(codes)}"
            )
        self.mixture.fit(codes)
        if not self.mixture.converged_:
            log.warning("GMM did not converge in %d iterations", self.mixture.max_iter)
        log.info("GMM fitted on %d codes of dimension %d: mean log-likelihood %.4f",
                 len(codes), codes.shape[1], self.mixture.score(codes))
        return self

    def full_covariances(self):
        """Each component's covariance as a full matrix, whatever covariance_type was fitted."""
        m = self.mixture
        k, d = m.means_.shape
        if m.covariance_type == "full":
            return m.covariances_
        if m.covariance_type == "tied":
            return np.broadcast_to(m.covariances_, (k, d, d))
        variances = np.broadcast_to(np.reshape(m.covariances_, (k, -1)), (k, d))
        return variances[:, :, None] * np.eye(d)

    def sample(self, n):
        """n codes and the component each came from, in a seeded random order.

        (sklearn's own sample() reseeds from random_state on every call, so it would
        return the same draws each time.)
        """
        m = self.mixture
        labels = np.repeat(np.arange(m.n_components), self.rng.multinomial(n, m.weights_))
        chol = np.linalg.cholesky(self.full_covariances())
        noise = self.rng.standard_normal((n, m.means_.shape[1]))
        codes = m.means_[labels] + np.einsum("nij,nj->ni", chol[labels], noise)
        order = self.rng.permutation(n)
        return codes[order], labels[order]

    def score_samples(self, codes):
        return self.mixture.score_samples(check_codes(codes, "codes scored by the GMM"))

    def settings(self):
        m = self.mixture
        return {"n_components": m.n_components, "covariance_type": m.covariance_type, "n_init": m.n_init,
                "max_iter": m.max_iter, "reg_covar": m.reg_covar, "max_codes": self.max_codes,
                "random_state": self.random_state}

    def fitted_arrays(self):
        """sklearn's fitted attributes (those ending in "_"), as arrays."""
        return {k: np.asarray(v) for k, v in vars(self.mixture).items() if k.endswith("_") and not k.startswith("_")}

    def set_fitted(self, arrays):
        for k, v in arrays.items():
            setattr(self.mixture, k, v if v.ndim else v.item())
        return self
