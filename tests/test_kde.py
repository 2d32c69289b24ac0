import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from iml.metrics.kde import kde_log_likelihood, paper_kde_score, standard_kde_score


def brute_force(test, samples, sigma, reduction):
    """float64, one pair at a time: log Σ_m N(x; g_m, σ² I) (minus log M for 'mean')."""
    d2 = ((test[:, None, :] - samples[None, :, :]) ** 2).sum(-1)
    out = logsumexp(-d2 / (2 * sigma**2), axis=1) - 0.5 * test.shape[1] * np.log(2 * np.pi * sigma**2)
    return out - np.log(len(samples)) if reduction == "mean" else out


def float32_tolerance(test, samples, sigma):
    """float32 rounding of the exponent: about eps * (|x|² + |g|²) / 2σ² after centring."""
    centre = samples.mean(0)
    scale = ((test - centre) ** 2).sum(1).max() + ((samples - centre) ** 2).sum(1).max()
    return 50 * np.finfo(np.float32).eps * scale / (2 * sigma**2) + 1e-9


@pytest.mark.parametrize("n,m,d", [(37, 53, 784), (300, 1100, 20), (5, 3000, 2), (1, 1, 3)])
@pytest.mark.parametrize("sigma", [0.05, 0.2, 1.0])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_matches_brute_force(n, m, d, sigma, reduction):
    rng = np.random.default_rng(n * m + d)
    test, samples = rng.random((n, d)), rng.random((m, d))
    expected = brute_force(test, samples, sigma, reduction)
    # blocks smaller than the data, so the blocked and streamed paths are exercised
    got32 = kde_log_likelihood(test, samples, sigma, reduction, block_rows=16, block_cols=100, device="cpu")
    got64 = kde_log_likelihood(test, samples, sigma, reduction, block_rows=16, block_cols=100,
                               dtype=torch.float64, device="cpu")
    np.testing.assert_allclose(got64, expected, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(got32, expected, rtol=0, atol=float32_tolerance(test, samples, sigma))
    assert got32.dtype == np.float64 and got32.shape == (n,)


def test_several_sigmas_match_one_at_a_time():
    rng = np.random.default_rng(0)
    test, samples = rng.random((50, 30)), rng.random((400, 30))
    sigmas = [0.1, 0.3, 0.9]
    many = kde_log_likelihood(test, samples, sigmas, "mean", block_rows=7, block_cols=64, dtype=torch.float64)
    assert many.shape == (3, 50)
    for s, row in zip(sigmas, many):
        np.testing.assert_allclose(row, brute_force(test, samples, s, "mean"), rtol=1e-10)


def test_far_away_points_stay_finite():
    """Exponents far below float32's exp range: the log-space computation must not underflow."""
    test = np.zeros((3, 784))
    samples = np.ones((10, 784))
    got = kde_log_likelihood(test, samples, 0.01, "sum")
    np.testing.assert_allclose(got, brute_force(test, samples, 0.01, "sum"), rtol=1e-6)


def test_paper_score_is_per_draw_mean_of_log_sums():
    rng = np.random.default_rng(1)
    test, samples = rng.random((40, 10)), rng.random((300, 10))
    draws = paper_kde_score(test, samples, sigma=0.3, n_per_draw=100, n_draws=3)
    expected = [brute_force(test, samples[k * 100 : (k + 1) * 100], 0.3, "sum").mean() for k in range(3)]
    np.testing.assert_allclose(draws, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="need 400 samples"):
        paper_kde_score(test, samples, n_per_draw=100, n_draws=4)


def test_standard_score_picks_sigma_on_validation():
    rng = np.random.default_rng(2)
    validation, test, samples = rng.random((60, 8)), rng.random((70, 8)), rng.random((500, 8))
    grid = np.geomspace(0.05, 2.0, 9)
    result = standard_kde_score(validation, test, samples, grid)
    val_scores = [brute_force(validation, samples, s, "mean").mean() for s in grid]
    best = grid[int(np.argmax(val_scores))]
    per_test = brute_force(test, samples, best, "mean")
    assert result["sigma"] == pytest.approx(best)
    assert result["mean"] == pytest.approx(per_test.mean(), rel=1e-5)
    assert result["sem"] == pytest.approx(per_test.std(ddof=1) / np.sqrt(len(test)), rel=1e-4)
    np.testing.assert_allclose(result["validation_scores"], val_scores, rtol=1e-5)


def test_rejects_bad_arguments():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="reduction"):
        kde_log_likelihood(x, x, 0.1, "median")
    with pytest.raises(ValueError, match="positive"):
        kde_log_likelihood(x, x, 0.0)
    with pytest.raises(ValueError, match="dimensions"):
        kde_log_likelihood(x, np.zeros((2, 4)), 0.1)
