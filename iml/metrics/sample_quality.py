"""Sample quality in a classifier's feature space: Fréchet distance and k-NN precision/recall.

Fréchet distance between Gaussians fitted to two feature sets,
    |μ₁ - μ₂|² + tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^½),
follows pytorch-fid's `calculate_frechet_distance` (mseitzer/pytorch-fid, the TTUR port):
unbiased covariances, scipy.linalg.sqrtm of the product, a 1e-6 ridge when the root is not
finite, the real part kept when the imaginary part of the diagonal is below 1e-3.

Precision/recall follows the official code of Kynkäänniemi et al. 2019
(kynkaat/improved-precision-and-recall-metric, `ManifoldEstimator`): the manifold of a set is the
union of balls around its points whose radius is the distance to the k-th nearest other point
(k = 3; the point itself is the 0th), a point counts when its distance to some ball's centre is
<= that radius; precision = share of samples inside the real manifold, recall = share of real
points inside the samples' manifold. Distances here are computed in blocks so 10k x 10k fits.
"""

import warnings

import numpy as np
import torch

NEIGHBOURS = 3


def _check_features(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise ValueError(f"{name}: expected an N x D feature array with N >= 2, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: {int((~np.isfinite(a)).sum())} non-finite feature values")
    return a


def gaussian_stats(features):
    """Mean and unbiased covariance of the rows of `features` (float64)."""
    features = _check_features(features, "features")
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    import scipy.linalg  # here: a second of start-up for steps that compute no FID

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"mismatched Gaussian statistics: means {mu1.shape}, {mu2.shape}; "
                         f"covariances {sigma1.shape}, {sigma2.shape}")
    with warnings.catch_warnings():  # a singular product (e.g. one repeated image) is expected
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(len(mu1)) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(covmean).all():
        raise ValueError("Fréchet distance: the square root of the covariance product is not finite even "
                         f"with a {eps:g} ridge (degenerate or overflowing features)")
    if np.iscomplexobj(covmean):
        largest = np.abs(np.diagonal(covmean).imag).max()
        if largest > 1e-3:
            raise ValueError(f"Fréchet distance: covariance square root has an imaginary part of {largest:.3g} "
                             "on its diagonal (numerically unstable covariances)")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_distance(features1, features2):
    """Fréchet distance between Gaussians fitted to two feature sets (N1 x D, N2 x D)."""
    return frechet_distance_from_stats(*gaussian_stats(features1), *gaussian_stats(features2))


def _squared_distances(a, b):
    # |a|² - 2 a·b + |b|², clamped: rounding can make a point's distance to itself negative
    return torch.addmm((b * b).sum(1), a, b.T, alpha=-2).add_((a * a).sum(1, keepdim=True)).clamp_(min=0)


def knn_radii(points, k=NEIGHBOURS, block=1024):
    """Squared distance of each row of `points` (tensor) to its k-th nearest other row."""
    if len(points) <= k:
        raise ValueError(f"k-NN radii with k = {k} need more than {k} points, got {len(points)}")
    return torch.cat([
        # k + 1: the point itself is its own nearest neighbour, at distance 0
        _squared_distances(points[i : i + block], points).kthvalue(k + 1, dim=1).values
        for i in range(0, len(points), block)
    ])


def inside_manifold(queries, centres, radii, block=1024):
    """Per query row: is it within the k-NN ball of any centre (boolean tensor)."""
    inside = torch.zeros(len(queries), dtype=torch.bool, device=queries.device)
    for i in range(0, len(queries), block):
        q = queries[i : i + block]
        for j in range(0, len(centres), block):
            inside[i : i + block] |= (_squared_distances(q, centres[j : j + block]) <= radii[j : j + block]).any(1)
    return inside


def precision_recall(real, samples, k=NEIGHBOURS, block=1024, device=None, dtype=torch.float64):
    """Improved precision and recall (Kynkäänniemi et al. 2019) of `samples` against `real` features."""
    real, samples = _check_features(real, "real features"), _check_features(samples, "sample features")
    if real.shape[1] != samples.shape[1]:
        raise ValueError(f"real features have {real.shape[1]} dimensions but samples have {samples.shape[1]}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    centre = real.mean(0)  # a common shift leaves distances alone and shrinks rounding in |a|² - 2 a·b + |b|²
    r = torch.as_tensor(real - centre, dtype=dtype, device=device)
    s = torch.as_tensor(samples - centre, dtype=dtype, device=device)
    with torch.no_grad():
        precision = inside_manifold(s, r, knn_radii(r, k, block), block).double().mean().item()
        recall = inside_manifold(r, s, knn_radii(s, k, block), block).double().mean().item()
    return {"precision": precision, "recall": recall}


def sample_quality(real, samples, k=NEIGHBOURS, **kw):
    """FID, precision and recall of sample features against real (test) features."""
    return {"fid": frechet_distance(real, samples), **precision_recall(real, samples, k, **kw),
            "n_real": int(len(real)), "n_samples": int(len(samples))}


def reference_samples(x_train, n, seed):
    """The two references scored like any model's samples: `n` training images drawn without
    replacement (the floor a perfect memoriser reaches) and the mean training image repeated `n` times."""
    x_train = np.asarray(x_train)
    if n > len(x_train):
        raise ValueError(f"{n} reference samples asked for but the training set holds {len(x_train)} images")
    pixels = x_train.astype(np.float32) / (255.0 if x_train.dtype == np.uint8 else 1.0)
    chosen = np.sort(np.random.default_rng(seed).choice(len(pixels), n, replace=False))
    return {"training_images": pixels[chosen], "mean_image": np.repeat(pixels.mean(0, keepdims=True), n, axis=0)}
