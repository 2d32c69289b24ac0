"""A Dirichlet-process Gaussian mixture base (scikit-learn's variational BayesianGaussianMixture),
the paper's Discussion's suggestion: the data choose how many of max_components they use.

Scored as the mixture it samples from (weights_, means_, covariances_): scikit-learn's own
score_samples uses the variational expected log-weights and Wishart terms, a function that is not
that mixture's density and integrates to less than 1."""

import logging
from typing import Optional

import numpy as np
from sklearn.mixture import BayesianGaussianMixture

from iml.bases.base import check_codes
from iml.bases.gmm import GaussianMixtureBase, mixture_log_density

log = logging.getLogger(__name__)


class DirichletProcessMixtureBase(GaussianMixtureBase):
    """Full covariances, a truncated stick-breaking prior with max_components sticks
    (weight_concentration_prior: sklearn's, None = 1 / max_components; smaller favours fewer
    components). Sampling, covariances and storage are the GMM's.

    Fitted: mixture, n_active_components_ (components with weight above weight_threshold)."""

    def __init__(self, max_components: int = 50, weight_concentration_prior: Optional[float] = None,
                 max_iter: int = 500, n_init: int = 1, reg_covar: float = 1e-6, weight_threshold: float = 1e-3,
                 max_codes: Optional[int] = None, random_state: int = 0):
        if not (isinstance(max_components, int) and max_components >= 1):
            raise ValueError(f"DPGMM max_components must be a positive integer, got {max_components!r}")
        if not 0 <= weight_threshold < 1:
            raise ValueError(f"DPGMM weight_threshold must be in [0, 1), got {weight_threshold}")
        self.max_components, self.weight_threshold = max_components, weight_threshold
        self.max_codes, self.random_state = max_codes, random_state
        self.rng = np.random.default_rng(random_state)
        self.validation_scores_ = {}  # nothing is chosen on validation codes (the GMM's storage has the slot)
        self.mixture = BayesianGaussianMixture(
            n_components=max_components, covariance_type="full",
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=weight_concentration_prior, max_iter=max_iter, n_init=n_init,
            reg_covar=reg_covar, random_state=random_state,
        )

    def fit(self, codes, lengths=None, validation=None):
        codes = self._capped(check_codes(codes, "codes given to the DPGMM fit"))
        if len(codes) < 2:
            raise ValueError(f"the DPGMM needs at least 2 codes to fit, got {len(codes)}")
        if len(codes) < self.max_components:
            log.warning("DPGMM: %d codes, fewer than max_components %d; truncating at %d components",
                        len(codes), self.max_components, len(codes))
        self.mixture.n_components = min(self.max_components, len(codes))
        self.mixture.fit(codes)
        if not self.mixture.converged_:
            log.warning("DPGMM did not converge in %d iterations", self.mixture.max_iter)
        self.n_components_ = self.mixture.n_components
        self._count_active()
        log.info("DPGMM fitted on %d codes of dimension %d: keeps %d of %d components (weight > %g); "
                 "mean log-likelihood %.4f", len(codes), codes.shape[1], self.n_active_components_,
                 self.mixture.n_components, self.weight_threshold, self.score(codes))
        return self

    def score_samples(self, codes):
        """log Σ_k w_k N(h; μ_k, Σ_k): the density of the mixture `sample` draws from."""
        m = self.mixture
        codes = check_codes(codes, "codes scored by the DPGMM")
        return mixture_log_density(codes, m.weights_ / m.weights_.sum(), m.means_, self.full_covariances())

    def _count_active(self):
        self.n_active_components_ = int((self.mixture.weights_ > self.weight_threshold).sum())

    def fitted_summary(self):
        return {**super().fitted_summary(), "n_active_components": self.n_active_components_}

    def settings(self):
        m = self.mixture
        return {"max_components": self.max_components, "weight_concentration_prior": m.weight_concentration_prior,
                "max_iter": m.max_iter, "n_init": m.n_init, "reg_covar": m.reg_covar,
                "weight_threshold": self.weight_threshold, "max_codes": self.max_codes,
                "random_state": self.random_state}

    def set_fitted(self, arrays):
        super().set_fitted(arrays)
        self._count_active()
        return self
