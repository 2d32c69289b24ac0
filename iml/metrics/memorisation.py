"""How close generated samples lie to the training images: a memoriser scores well on Parzen
windows and recall, so the scores need this beside them.

- nearest_distances: each sample's Euclidean distance to its nearest training image.
- near_copy_fraction: the fraction of samples closer to a training image than the 1st percentile
  of the held-out test images' own nearest-training distances (what "near" means for real data).
- data_copying_ct: Meehan, Chaudhuri & Dasgupta (2020)'s C_T. Cells from k-means on the training
  images; in each cell, the Mann-Whitney U z-score of the samples' against the test images'
  distances to their nearest training image of that cell; averaged with the cell's share of test
  images as weight, over the cells holding at least `min_cell_samples` samples (their tau = 20/m).
  C_T << 0: samples closer to the training data than fresh data is (copying); ~0: none; > 0:
  underfitting.
- small_components: a GMM-type base's components that cover only one or two training codes.
"""

import numpy as np
import torch


def nearest_distances(queries, reference, block=1024):
    """(distance, index) of each query's nearest row of `reference`. The search runs in float32
    matrix products; the winner's distance is then recomputed exactly, so a copy scores 0."""
    ref = torch.as_tensor(np.asarray(reference, dtype=np.float32))
    ref_sq = (ref * ref).sum(1)
    index = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), block):
        q = torch.as_tensor(np.asarray(queries[start : start + block], dtype=np.float32))
        # ||q - r||² up to the term ||q||², which does not change the argmin
        index[start : start + block] = (ref_sq[None] - 2 * q @ ref.T).argmin(1).numpy()
    diff = np.asarray(queries, dtype=np.float64) - np.asarray(reference, dtype=np.float64)[index]
    return np.sqrt((diff * diff).sum(1)), index


def near_copy_fraction(sample_distances, test_distances, percentile=1.0):
    """(fraction of samples nearer a training image than `percentile` % of test images are, that distance)."""
    threshold = float(np.percentile(test_distances, percentile))
    return float(np.mean(sample_distances < threshold)), threshold


def mann_whitney_z(generated, test):
    """Z-score of the Mann-Whitney U of `generated` against `test` (ties counted half) under the
    null of one distribution: negative when the generated values tend to be smaller."""
    m, n = len(generated), len(test)
    ordered = np.sort(test)
    below, up_to = np.searchsorted(ordered, generated, "left"), np.searchsorted(ordered, generated, "right")
    u = float((below + 0.5 * (up_to - below)).sum())  # pairs with generated > test, ties half
    return float((u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12))


def kmeans(x, n_cells, seed, iterations=50):
    """Lloyd's k-means from `n_cells` seeded distinct rows of x, until no row changes cell: the
    centres. (In float32 matrix products: scikit-learn's KMeans costs seconds here.)"""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    rng = np.random.default_rng(seed)
    centres = xt[torch.as_tensor(rng.choice(len(xt), n_cells, replace=False))].clone()
    cells = None
    for _ in range(iterations):
        new = ((centres * centres).sum(1)[None] - 2 * xt @ centres.T).argmin(1)
        if cells is not None and torch.equal(new, cells):
            break
        cells = new
        onehot = torch.nn.functional.one_hot(cells, n_cells).to(xt.dtype)
        counts = onehot.sum(0)[:, None]
        centres = torch.where(counts > 0, onehot.T @ xt / counts.clamp(min=1), centres)  # an empty cell stays
    return centres.numpy()


def data_copying_ct(train, test, samples, n_cells, seed, min_cell_samples=20):
    """Meehan et al. (2020)'s C_T statistic (see the module's docstring) and how many cells it used."""
    centres = kmeans(train, n_cells, seed)
    train_cells, test_cells, sample_cells = (nearest_distances(x, centres)[1] for x in (train, test, samples))
    z, weight = [], []
    for cell in range(n_cells):
        in_test, in_samples = test_cells == cell, sample_cells == cell
        # a cell without test images weighs nothing; one with too few samples is left out (tau)
        if not in_test.any() or in_samples.sum() < min_cell_samples:
            continue
        cell_train = train[train_cells == cell]
        z.append(mann_whitney_z(nearest_distances(samples[in_samples], cell_train)[0],
                                nearest_distances(test[in_test], cell_train)[0]))
        weight.append(in_test.mean())
    c_t = float(np.average(z, weights=weight)) if z else float("nan")
    return {"c_t": c_t, "cells": n_cells, "cells_used": len(z), "min_cell_samples": min_cell_samples}


def small_components(base, codes, at_most=2):
    """For a GMM-type base: the components that cover at most `at_most` of the training `codes`,
    by weight (weight x number of codes) or by covariance (codes inside the component's 95%
    ellipsoid), and the share of samples they generate. A KDE base's kernels each sit on one
    code: all of them. None for other bases."""
    from iml.bases import spec_of

    kind = spec_of(base).components
    if kind == "kernels":
        return {"components": len(base.centres_), "small": len(base.centres_), "small_weight": 1.0}
    if kind is None:
        return None
    mixture = base.mixture
    from scipy.special import chdtri  # the chi-square quantile, without scipy.stats' import cost

    covariances = base.full_covariances()
    inside = []
    bound = chdtri(codes.shape[1], 0.05)  # chi2.ppf(0.95, K)
    for mean, cov in zip(mixture.means_, covariances):
        diff = codes - mean
        squared = np.einsum("ij,ij->i", diff, np.linalg.solve(cov, diff.T).T)  # Mahalanobis²
        inside.append(int((squared < bound).sum()))
    by_weight = mixture.weights_ * len(codes) <= at_most
    small = by_weight | (np.array(inside) <= at_most)
    return {"components": int(len(small)), "small": int(small.sum()),
            "small_weight": float(mixture.weights_[small].sum())}


def audit(train, test, samples, n_cells, seed, n_closest=8):
    """The memorisation summary of `samples` (flat images) against the training and test images,
    with the `n_closest` sample/training pairs (indices and distances) for the figure."""
    sample_d, sample_nn = nearest_distances(samples, train)
    test_d, _ = nearest_distances(test, train)
    fraction, threshold = near_copy_fraction(sample_d, test_d)
    closest = np.argsort(sample_d)[:n_closest]
    return {"near_copy_fraction": fraction, "near_copy_threshold": threshold, "n_samples": len(samples),
            "n_test": len(test), "n_train": len(train),
            "sample_distance_median": float(np.median(sample_d)), "test_distance_median": float(np.median(test_d)),
            **data_copying_ct(train, test, samples, n_cells, seed),
            "closest": [{"sample": int(i), "train": int(sample_nn[i]), "distance": float(sample_d[i])} for i in closest]}
