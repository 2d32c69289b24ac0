"""A Gaussian mixture base (scikit-learn), full covariances by default."""

import logging
from typing import Literal, Optional

import numpy as np
from sklearn.base import clone
from sklearn.mixture import GaussianMixture

from iml.bases.base import BaseDistribution, check_codes, training_and_validation

log = logging.getLogger(__name__)


DEFAULT_N_COMPONENTS_GRID = (1, 5, 10, 20, 40, 80)


def mixture_log_density(codes, weights, means, covariances):
    """Per-row log Σ_k w_k N(h; μ_k, Σ_k) of a Gaussian mixture with full covariances (k, d, d)."""
    from scipy.linalg import solve_triangular
    from scipy.special import logsumexp

    d = codes.shape[1]
    per_component = []
    for w, mu, chol in zip(weights, means, np.linalg.cholesky(covariances)):
        z = solve_triangular(chol, (codes - mu).T, lower=True)
        log_det = 2 * np.log(np.diag(chol)).sum()
        per_component.append(np.log(w) - 0.5 * ((z * z).sum(0) + log_det + d * np.log(2 * np.pi)))
    return logsumexp(np.stack(per_component, axis=1), axis=1)


class GaussianMixtureBase(BaseDistribution):
    """n_components: a number, or "auto": each number of n_components_grid (those no larger than the
    training codes) is fitted on the training codes and scored on validation codes (those given to
    fit, else a seeded 10% held out, the mixture then refitted on all codes with the winner).

    Fitted: mixture (sklearn's), n_components_ (the number used), validation_scores_
    ({candidate: mean held-out log-likelihood}, empty unless auto)."""

    def __init__(self, n_components: int | Literal["auto"] = 30,
                 covariance_type: Literal["full", "tied", "diag", "spherical"] = "full", n_init: int = 1,
                 max_iter: int = 200, reg_covar: float = 1e-6, max_codes: Optional[int] = None,
                 n_components_grid: tuple[int, ...] = DEFAULT_N_COMPONENTS_GRID, random_state: int = 0):
        if n_components != "auto" and not (isinstance(n_components, int) and n_components >= 1):
            raise ValueError(f"GMM n_components must be a positive integer or 'auto', got {n_components!r}")
        if not n_components_grid or any(not isinstance(k, int) or k < 1 for k in n_components_grid):
            raise ValueError(f"GMM n_components_grid must list positive integers, got {n_components_grid!r}")
        self.n_components, self.n_components_grid = n_components, [int(k) for k in n_components_grid]
        self.max_codes, self.random_state = max_codes, random_state
        self.rng = np.random.default_rng(random_state)
        self.validation_scores_ = {}
        self.mixture = GaussianMixture(
            n_components=self.n_components_grid[0] if n_components == "auto" else n_components,
            covariance_type=covariance_type, n_init=n_init, max_iter=max_iter, reg_covar=reg_covar,
            random_state=random_state,
        )

    def fit(self, codes, lengths=None, validation=None):
        codes = self._capped(check_codes(codes, "codes given to the GMM fit"))
        if self.n_components == "auto":
            return self._fit_auto(codes, validation)
        self._fit_mixture(self.mixture, codes)
        self.n_components_ = self.mixture.n_components
        return self

    def _capped(self, codes):
        """At most max_codes of the codes, drawn at random (seeded), as the authors' code fits its GMM."""
        if self.max_codes is not None and len(codes) > self.max_codes:
            return codes[self.rng.choice(len(codes), self.max_codes, replace=False)]
        return codes

    def _fit_mixture(self, mixture, codes):
        if len(codes) < mixture.n_components:
            raise ValueError(f"GMM with {mixture.n_components} components needs at least that many codes, got {len(codes)}")
        mixture.fit(codes)
        if not mixture.converged_:
            log.warning("GMM with %d components did not converge in %d iterations", mixture.n_components, mixture.max_iter)
        log.info("GMM with %d components fitted on %d codes of dimension %d: mean log-likelihood %.4f",
                 mixture.n_components, len(codes), codes.shape[1], mixture.score(codes))
        return mixture

    def _fit_auto(self, codes, validation):
        train, held_out = training_and_validation(codes, validation, self.rng, "GMM (n_components: auto)")
        candidates = [k for k in self.n_components_grid if k <= len(train)]
        if not candidates:
            raise ValueError(f"GMM n_components auto: every candidate of {self.n_components_grid} "
                             f"exceeds the {len(train)} training codes")
        fits = {k: self._fit_mixture(clone(self.mixture).set_params(n_components=k), train) for k in candidates}
        self.validation_scores_ = {k: float(m.score(held_out)) for k, m in fits.items()}
        best = max(self.validation_scores_, key=self.validation_scores_.get)
        log.info("GMM n_components auto: validation log-likelihood per candidate %s; chose %d",
                 {k: round(v, 4) for k, v in self.validation_scores_.items()}, best)
        # with validation codes given the winner was fitted on all training codes already
        self.mixture = fits[best] if validation is not None else self._fit_mixture(fits[best], codes)
        self.n_components_ = best
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

    def fitted_summary(self):
        return {"n_components": int(self.n_components_), "covariance_type": self.mixture.covariance_type,
                "max_codes": self.max_codes, "converged": bool(self.mixture.converged_)}

    def settings(self):
        m = self.mixture
        return {"n_components": self.n_components, "covariance_type": m.covariance_type, "n_init": m.n_init,
                "max_iter": m.max_iter, "reg_covar": m.reg_covar, "max_codes": self.max_codes,
                "n_components_grid": self.n_components_grid, "random_state": self.random_state}

    def fitted_arrays(self):
        """sklearn's fitted attributes (those ending in "_"), as arrays, and the auto choice's scores."""
        arrays = {k: np.asarray(v) for k, v in vars(self.mixture).items() if k.endswith("_") and not k.startswith("_")}
        arrays["validated_n_components"] = np.array(list(self.validation_scores_), dtype=np.int64)
        arrays["validation_scores"] = np.array(list(self.validation_scores_.values()), dtype=np.float64)
        return arrays

    def set_fitted(self, arrays):
        arrays = dict(arrays)
        candidates, scores = arrays.pop("validated_n_components", []), arrays.pop("validation_scores", [])
        self.validation_scores_ = {int(k): float(v) for k, v in zip(candidates, scores)}
        for k, v in arrays.items():
            setattr(self.mixture, k, v if v.ndim else v.item())
        self.mixture.n_components = self.n_components_ = len(self.mixture.weights_)
        return self
