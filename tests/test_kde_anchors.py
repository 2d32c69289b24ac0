"""Sanity anchors on real MNIST that any reader can recompute: the paper-convention KDE score
(σ = 0.2, log-sum over 1000 samples) of two trivial "models" on the 1000 test images of the
quick preset's split, from the project's KDE and from a float64 brute force."""

import numpy as np
import pytest
from scipy.special import logsumexp

from iml.data import mnist
from iml.io import load_npz
from iml.metrics.kde import paper_kde_score

SIGMA, M = 0.2, 1000
# the anchors (nats per test image), from the float64 brute force below
MEMORISER = 141.7408  # close to the paper's IML score (143): this metric rewards memorising
MEAN_IMAGE = -109.1322


@pytest.fixture(scope="module")
def quick_split(mnist_quick_split):
    arrays = load_npz(mnist_quick_split / "splits.npz")
    return mnist.to_float(arrays["x_train"]).astype(np.float64), mnist.to_float(arrays["x_test"]).astype(np.float64)


def brute_force(test, samples, sigma):
    """float64, pair by pair: mean over test rows of log Σ_m N(x; g_m, σ² I)."""
    d = test.shape[1]
    scores = [logsumexp(-((samples - x) ** 2).sum(1) / (2 * sigma**2)) for x in test]
    return float(np.mean(scores)) - 0.5 * d * np.log(2 * np.pi * sigma**2)


@pytest.fixture(scope="module")
def memoriser(quick_split):
    """1000 training images used as the samples, a model that memorised its training set: (the
    project's score, the brute force's)."""
    train, test = quick_split
    samples = train[:M]
    return paper_kde_score(test, samples.astype(np.float32), SIGMA, M, 1)[0], brute_force(test, samples, SIGMA)


def test_memoriser_anchor(memoriser):
    ours, expected = memoriser
    assert ours == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(MEMORISER, abs=0.005)


def test_mean_image_anchor(quick_split, memoriser):
    """1000 copies of the mean training image: log 1000 + log N(x; mean, σ² I), averaged."""
    train, test = quick_split
    mean = train.mean(0)
    ours = paper_kde_score(test, np.repeat(mean[None].astype(np.float32), M, 0), SIGMA, M, 1)[0]
    expected = brute_force(test, np.repeat(mean[None], M, 0), SIGMA)
    closed_form = np.log(M) + np.mean(-((test - mean) ** 2).sum(1) / (2 * SIGMA**2)) \
        - 0.5 * test.shape[1] * np.log(2 * np.pi * SIGMA**2)
    assert expected == pytest.approx(closed_form, abs=1e-9)
    assert ours == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(MEAN_IMAGE, abs=0.005)
    assert ours < memoriser[0] - 200  # memorising beats the blur of the mean by far, as the metric says
