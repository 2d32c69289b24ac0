"""Parzen-window (Gaussian KDE) test log-likelihood, blocked matrix products in log space.

s(x) = log Σ_m N(x; g_m, σ² I)  ("sum", the paper's convention) or that minus log M ("mean",
the standard convention of Breuleux et al. and the GAN paper).
"""

import math

import numpy as np
import torch

# exp() of float32 inputs below about -88 gives denormals (slow, and zero to within 1e-38 of the
# row's largest term, which is exp(0) = 1 after the max is subtracted): clamp there.
_MIN_EXPONENT = -87.0


def _as_tensor(a, dtype, device):
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def kde_log_likelihood(test, samples, sigma, reduction="sum", block_rows=1024, block_cols=2048,
                       dtype=torch.float32, device=None):
    """Log KDE density of each test row under kernels at `samples`, for one or several σ.

    test (N, D), samples (M, D). Memory stays at block_rows x block_cols per σ. Returns float64
    numpy: shape (N,) for a scalar sigma, (len(sigma), N) for a sequence.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    sigmas = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    if (sigmas <= 0).any():
        raise ValueError(f"kernel widths must be positive, got {sigmas}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    x_all = _as_tensor(test, dtype, device)
    g_all = _as_tensor(samples, dtype, device)
    n, d = x_all.shape
    m = g_all.shape[0]
    if g_all.shape[1] != d:
        raise ValueError(f"test rows have {d} dimensions but samples have {g_all.shape[1]}")
    # distances don't change under a common shift; centring shrinks the norms whose
    # float32 cancellation limits the accuracy of |x|² - 2 x·g + |g|²
    centre = g_all.mean(0)
    x_all, g_all = x_all - centre, g_all - centre
    single = len(sigmas) == 1
    # one σ: fold 1/σ² into the matrix product; several: share the product, rescale per σ
    scale = 1.0 / sigmas[0] ** 2 if single else 1.0
    half_g_sq = (g_all * g_all).sum(1) * (-0.5 * scale)
    inv_var = torch.as_tensor(np.ones(1) if single else 1.0 / sigmas**2, dtype=dtype, device=device)
    lse = torch.empty(len(sigmas), n, dtype=torch.float64, device=device)
    with torch.no_grad():
        for i in range(0, n, block_rows):
            x = x_all[i : i + block_rows]
            acc = torch.full((len(sigmas), len(x)), -math.inf, dtype=torch.float64, device=device)
            for j in range(0, m, block_cols):
                # e[a, b] = (x_a · g_b - |g_b|² / 2) * scale
                e = torch.addmm(half_g_sq[j : j + block_cols], x, g_all[j : j + block_cols].T, alpha=scale)
                row_max = e.amax(1, keepdim=True)
                e.sub_(row_max)
                for s in range(len(sigmas)):
                    t = e if single else e * inv_var[s]
                    t.clamp_(min=_MIN_EXPONENT).exp_()
                    part = t.sum(1).log_().double() + (row_max.squeeze(1).double() * inv_var[s].double())
                    acc[s] = torch.logaddexp(acc[s], part)
            x_sq = (x.double() ** 2).sum(1)
            lse[:, i : i + len(x)] = acc - x_sq[None, :] * torch.as_tensor(0.5 / sigmas[:, None] ** 2, device=device)
    sig = torch.as_tensor(sigmas[:, None], device=device)
    out = lse - 0.5 * d * torch.log(2 * math.pi * sig**2)
    if reduction == "mean":
        out = out - math.log(m)
    out = out.cpu().numpy()
    return out[0] if np.ndim(sigma) == 0 else out


def paper_kde_score(test, samples, sigma=0.2, n_per_draw=1000, n_draws=10, **kw):
    """The authors' score: log-sum over n_per_draw samples, σ = 0.2, mean over the test set,
    for each of n_draws disjoint draws. Returns the per-draw means."""
    if len(samples) < n_per_draw * n_draws:
        raise ValueError(f"{n_draws} draws of {n_per_draw} need {n_per_draw * n_draws} samples, got {len(samples)}")
    return np.array([
        kde_log_likelihood(test, samples[k * n_per_draw : (k + 1) * n_per_draw], sigma, "sum", **kw).mean()
        for k in range(n_draws)
    ])


def standard_kde_score(validation, test, samples, sigma_grid, **kw):
    """The standard protocol: log-mean over all samples, σ maximising the validation mean.

    Returns a dict: sigma, validation scores per σ, test mean and standard error.
    """
    val = kde_log_likelihood(validation, samples, np.asarray(sigma_grid), "mean", **kw).mean(1)
    best = float(np.asarray(sigma_grid)[int(np.argmax(val))])
    per_test = kde_log_likelihood(test, samples, best, "mean", **kw)
    return {
        "sigma": best,
        "sigma_grid": [float(s) for s in sigma_grid],
        "validation_scores": [float(v) for v in val],
        "mean": float(per_test.mean()),
        "sem": float(per_test.std(ddof=1) / np.sqrt(len(per_test))),
        "n_test": int(len(per_test)),
        "n_samples": int(len(samples)),
    }
