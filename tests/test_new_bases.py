"""The gaussian, gmm (n_components auto), dpgmm, kde and flow bases: each against a known answer,
and all of them on PCA-projected real MNIST through the shared fit/sample/score/storage interface
(the fits shared with the rest of the suite: tests/conftest.py)."""

import logging

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from iml.bases import BASES, build_base, load_base, save_base
from tests.conftest import fit_quick_base
from tests.helpers import QUICK_BASES, assert_kept_the_best_epoch


def mixture(n, centres, scale, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(centres), size=n)
    return centres[labels] + scale * rng.standard_normal((n, centres.shape[1]))


@pytest.fixture(scope="module")
def four_clusters():
    """Four well-separated round clusters in 5-D (training, validation, test)."""
    centres = 8.0 * np.eye(5)[:4]
    return [mixture(n, centres, 1.0, seed) for n, seed in ((2000, 0), (500, 1), (1000, 2))]


@pytest.fixture(scope="module")
def moons():
    """Two interleaved half circles with noise (non-Gaussian, 2-D): training, validation, test."""
    def draw(n, seed):
        rng = np.random.default_rng(seed)
        t = rng.uniform(0, np.pi, n)
        upper = rng.random(n) < 0.5
        x = np.where(upper, np.cos(t), 1 - np.cos(t))
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
        return np.stack([x, y], 1) + 0.1 * rng.standard_normal((n, 2))
    return draw(3000, 0), draw(1000, 1), draw(2000, 2)


# -- every new base, on real codes ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(QUICK_BASES))
def test_base_samples_scores_and_round_trips_on_mnist_codes(name, mnist_codes, fitted_base, tmp_path, one_thread):
    _, _, test = mnist_codes
    base = fitted_base(name)
    samples, _ = base.sample(300)
    assert samples.shape == (300, 8) and np.isfinite(samples).all()
    scores = base.score_samples(test)
    assert scores.shape == (500,) and np.isfinite(scores).all()

    save_base(tmp_path / "base.npz", name, base)
    loaded = load_base(tmp_path / "base.npz")
    np.testing.assert_array_equal(loaded.score_samples(test), scores)
    np.testing.assert_array_equal(loaded.sample(50)[0], base.sample(50)[0])  # the generator's state travels

    again = fit_quick_base(name, mnist_codes, 4)  # the fit and its draws are seeded
    np.testing.assert_array_equal(again.sample(300)[0], samples)
    np.testing.assert_array_equal(again.score_samples(test), scores)


def test_learned_bases_beat_the_fixed_ones_on_mnist_codes(mnist_codes, fitted_base):
    """On real codes every fitted density is better than N(0, I), and the multi-modal ones than one Gaussian."""
    _, _, test = mnist_codes
    held_out = {name: fitted_base(name).score(test) for name in QUICK_BASES}
    assert all(held_out[name] > held_out["standard_normal"] for name in QUICK_BASES if name != "standard_normal")
    assert held_out["gmm"] > held_out["gaussian"] and held_out["dpgmm"] > held_out["gaussian"]


def test_the_flow_fitted_on_mnist_codes_kept_its_best_epoch(mnist_codes, fitted_base):
    assert_kept_the_best_epoch(fitted_base("flow"), mnist_codes[1])


def test_an_unknown_base_is_refused_naming_the_known_ones():
    known = r"\['dpgmm', 'flow', 'gaussian', 'gmm', 'hmm', 'kde', 'standard_normal'\]"
    with pytest.raises(ValueError, match=rf"unknown base distribution 'gmmm'; known: {known}"):
        build_base("gmmm", {}, random_state=0)
    assert sorted(BASES) == sorted([*QUICK_BASES, "hmm"])  # every registered base is tested on real codes


# -- every base is a density: it integrates to one --------------------------------------------

GRID_SETTINGS = {  # (name, settings) fitted on the moons; the GMM in each covariance type
    "standard_normal": ("standard_normal", {}),
    "gaussian": ("gaussian", {}),
    "gmm_full": ("gmm", {"n_components": 4}),
    "gmm_diag": ("gmm", {"n_components": 4, "covariance_type": "diag"}),
    "gmm_tied": ("gmm", {"n_components": 4, "covariance_type": "tied"}),
    "gmm_spherical": ("gmm", {"n_components": 4, "covariance_type": "spherical"}),
    "dpgmm": ("dpgmm", {"max_components": 6}),
    "kde": ("kde", {"max_centres": 1000}),
    "flow_nsf": ("flow", {"flow": "nsf", "transforms": 2, "hidden_features": [16, 16], "epochs": 3}),
    "hmm": ("hmm", {"n_states": 3, "n_iter": 5, "device": "cpu"}),
}


@pytest.mark.parametrize("label", list(GRID_SETTINGS))
def test_every_base_density_integrates_to_one_on_a_grid(label, moons, one_thread):
    """exp(score_samples) summed over a fine 2-D grid around the data (and N(0, I)'s mass) is 1; the
    HMM scores each grid point as a sequence of one frame (the mixture of its start)."""
    train, val, _ = moons
    name, settings = GRID_SETTINGS[label]
    base = build_base(name, settings, random_state=0)
    if name in ("standard_normal", "gaussian", "hmm"):
        base.fit(train)
    else:
        base.fit(train, validation=val)
    lo, hi = np.minimum(train.min(0), -1) - 3.0, np.maximum(train.max(0), 1) + 3.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 400), np.linspace(lo[1], hi[1], 400))
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    log_density = base.score_samples(grid, np.ones(len(grid), int)) if name == "hmm" else base.score_samples(grid)
    cell = (gx[0, 1] - gx[0, 0]) * (gy[1, 0] - gy[0, 0])
    assert np.exp(log_density).sum() * cell == pytest.approx(1.0, abs=0.01)
# -- gaussian ----------------------------------------------------------------------------------

def test_gaussian_is_the_maximum_likelihood_gaussian(mnist_codes):
    train, _, test = mnist_codes
    base = build_base("gaussian", {"ridge": 1e-6}, random_state=0).fit(train)
    np.testing.assert_allclose(base.mean_, train.mean(0))
    np.testing.assert_allclose(base.covariance_, np.cov(train.T, bias=True) + 1e-6 * np.eye(8))
    expected = stats.multivariate_normal(train.mean(0), np.cov(train.T, bias=True) + 1e-6 * np.eye(8)).logpdf(test)
    np.testing.assert_allclose(base.score_samples(test), expected, rtol=1e-10)
    samples, _ = base.sample(20000)
    np.testing.assert_allclose(np.cov(samples.T), base.covariance_, atol=0.03 * np.abs(base.covariance_).max())


def test_gaussian_ridge_makes_degenerate_codes_fit():
    flat = np.random.default_rng(0).standard_normal((100, 2)) @ np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="singular; raise the ridge"):
        build_base("gaussian", {"ridge": 0.0}, random_state=0).fit(flat)
    assert np.isfinite(build_base("gaussian", {"ridge": 1e-3}, random_state=0).fit(flat).score_samples(flat)).all()


# -- gmm auto ----------------------------------------------------------------------------------

def test_gmm_auto_picks_the_true_number_of_components(four_clusters, tmp_path):
    train, val, test = four_clusters
    base = build_base("gmm", {"n_components": "auto", "n_components_grid": [1, 2, 3, 4, 6, 8, 12]}, random_state=0)
    base.fit(train, validation=val)
    assert base.n_components_ == 4 and base.mixture.n_components == 4
    assert list(base.validation_scores_) == [1, 2, 3, 4, 6, 8, 12]
    assert max(base.validation_scores_, key=base.validation_scores_.get) == 4
    assert base.validation_scores_[4] == pytest.approx(base.mixture.score(val))  # scored on the codes given
    save_base(tmp_path / "gmm.npz", "gmm", base)
    loaded = load_base(tmp_path / "gmm.npz")
    assert loaded.n_components_ == 4 and loaded.validation_scores_ == base.validation_scores_


def test_gmm_auto_holds_out_training_codes_without_validation(four_clusters, caplog):
    train, _, _ = four_clusters
    with caplog.at_level("INFO"):
        base = build_base("gmm", {"n_components": "auto", "n_components_grid": [1, 2, 4, 8]}, random_state=0).fit(train)
    assert "holding out a seeded 200 of the 2000 training codes" in caplog.text
    assert base.n_components_ == 4
    assert base.mixture.n_features_in_ == 5 and base.mixture.converged_


def test_gmm_refuses_a_bad_n_components():
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        build_base("gmm", {"n_components": "many"}, random_state=0)


# -- dpgmm -------------------------------------------------------------------------------------

def test_dpgmm_keeps_about_the_true_number_of_components(four_clusters, caplog):
    train, _, test = four_clusters
    with caplog.at_level("INFO"):
        base = build_base("dpgmm", {"max_components": 15, "weight_threshold": 1e-3}, random_state=0).fit(train)
    assert 4 <= base.n_active_components_ <= 5
    assert f"keeps {base.n_active_components_} of 15 components" in caplog.text
    # as good on held-out codes as the 4-component GMM
    gmm = build_base("gmm", {"n_components": 4}, random_state=0).fit(train)
    assert base.score(test) > gmm.score(test) - 0.05


# -- kde ---------------------------------------------------------------------------------------

def exact_kde(x, centres, sigmas):
    """log (1/M) Σ_m N(x; c_m, σ² I) in float64, directly: (len(sigmas), len(x))."""
    sq = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
    d = x.shape[1]
    return np.array([logsumexp(-0.5 * sq / s**2, axis=1) - np.log(len(centres)) - 0.5 * d * np.log(2 * np.pi * s**2)
                     for s in np.atleast_1d(sigmas)])


def test_kde_density_and_bandwidth_choice(mnist_codes):
    train, val, test = mnist_codes
    base = build_base("kde", {}, random_state=0).fit(train, validation=val)  # the default, 25-point relative grid
    np.testing.assert_allclose(base.score_samples(test[:100]), exact_kde(test[:100], train, base.bandwidth_)[0],
                               rtol=1e-4)
    fine = np.geomspace(base.bandwidth_grid_[0], base.bandwidth_grid_[-1], 200)
    fine_scores = exact_kde(val, train, fine).mean(1)
    best = fine[np.argmax(fine_scores)]
    step = base.bandwidth_grid_[1] / base.bandwidth_grid_[0]
    assert best / step <= base.bandwidth_ <= best * step  # the coarse grid's neighbour of the best
    assert fine_scores.max() - exact_kde(val, train, base.bandwidth_).mean() < 0.05


def test_kde_samples_are_training_codes_plus_bandwidth_noise(mnist_codes):
    train, val, _ = mnist_codes
    base = build_base("kde", {"bandwidth_grid": [0.5, 1.0, 2.0]}, random_state=0).fit(train, validation=val)
    samples, picks = base.sample(20000)
    noise = samples - train[picks]
    assert noise.mean() == pytest.approx(0, abs=0.01)
    assert noise.std() == pytest.approx(base.bandwidth_, rel=0.01)


# -- flow --------------------------------------------------------------------------------------

def test_flow_beats_one_gaussian_and_normalises(moons, one_thread):
    train, val, test = moons
    flow = build_base("flow", {"transforms": 3, "hidden_features": [64, 64], "epochs": 60, "patience": 5,
                               "batch_size": 256, "lr": 3e-3}, random_state=0).fit(train, validation=val)
    gaussian = build_base("gaussian", {}, random_state=0).fit(train)
    assert flow.score(test) > gaussian.score(test) + 0.3
    assert_kept_the_best_epoch(flow, val)
    # the density (standardisation's Jacobian included) integrates to 1 over a box holding the data
    lo, hi = train.min(0) - 1.0, train.max(0) + 1.0
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    density = np.exp(flow.score_samples(np.stack([gx.ravel(), gy.ravel()], 1)))
    cell = (gx[0, 1] - gx[0, 0]) * (gy[1, 0] - gy[0, 0])
    assert density.sum() * cell == pytest.approx(1.0, abs=0.02)
    # its samples are as likely under it as held-out data is
    samples, _ = flow.sample(2000)
    assert flow.score(samples) == pytest.approx(flow.score(test), abs=0.3)


def test_flow_holds_out_codes_and_refuses_mismatched_validation(moons, caplog):
    train, _, _ = moons
    with pytest.raises(ValueError, match="validation codes have 3 dimensions, training codes 2"):
        build_base("flow", {"epochs": 1}, random_state=0).fit(train, validation=np.zeros((5, 3)))
    with caplog.at_level("INFO"):
        build_base("flow", {"epochs": 1, "hidden_features": [8]}, random_state=0).fit(train)
    assert "holding out a seeded 300 of the 3000 training codes" in caplog.text


def test_flow_stops_patience_epochs_after_its_best_and_restores_it(moons, one_thread):
    """On 60 training codes a large flow overfits within a few epochs: training stops `patience`
    epochs after the best validation epoch, long before the cap, with that epoch's weights."""
    train, val, _ = moons
    flow = build_base("flow", {"transforms": 3, "hidden_features": [64, 64], "epochs": 300, "patience": 3,
                               "batch_size": 16, "lr": 1e-2}, random_state=0).fit(train[:60], validation=val[:200])
    assert len(flow.history_) == flow.best_epoch_ + 3 < 300
    assert (flow.history_[flow.best_epoch_:, 1] < flow.history_[flow.best_epoch_ - 1, 1]).all()
    assert_kept_the_best_epoch(flow, val[:200])


def test_the_nsf_flow_fits_and_round_trips(moons, tmp_path, one_thread):
    train, val, test = moons
    settings = {"flow": "nsf", "transforms": 2, "hidden_features": [32, 32], "epochs": 8, "batch_size": 256,
                "lr": 3e-3}
    flow = build_base("flow", settings, random_state=0).fit(train, validation=val)
    gaussian = build_base("gaussian", {}, random_state=0).fit(train)
    assert flow.score(test) > gaussian.score(test)  # the spline flow bends where one Gaussian cannot
    assert_kept_the_best_epoch(flow, val)
    save_base(tmp_path / "nsf.npz", "flow", flow)
    loaded = load_base(tmp_path / "nsf.npz")
    assert loaded.flow_kind == "nsf"
    np.testing.assert_array_equal(loaded.score_samples(test), flow.score_samples(test))
    with pytest.raises(ValueError, match=r"flow must be one of \['maf', 'nsf'\], got 'spline'"):
        build_base("flow", {"flow": "spline"}, random_state=0)


def test_a_non_finite_validation_score_stops_the_flow_naming_the_epoch(moons):
    train, val, _ = moons
    far = val.copy()
    far[0] = 1e30  # finite code, but its standardised log-density overflows to -inf
    with pytest.raises(FloatingPointError, match=r"validation log-likelihood is -?(inf|nan) at epoch 1; lower lr"):
        build_base("flow", {"epochs": 2, "hidden_features": [8]}, random_state=0).fit(train[:300], validation=far)


def test_dpgmm_with_fewer_codes_than_components_truncates(four_clusters, caplog):
    train, _, test = four_clusters
    with caplog.at_level(logging.WARNING):
        base = build_base("dpgmm", {"max_components": 15}, random_state=0).fit(train[:12])
    assert "12 codes, fewer than max_components 15; truncating at 12 components" in caplog.text
    assert base.mixture.n_components == base.n_components_ == 12 and len(base.mixture.weights_) == 12
    assert np.isfinite(base.score_samples(test)).all()
    assert build_base("dpgmm", {"max_components": 15}, random_state=0).fit(train[:40]).n_components_ == 15


def test_kde_max_centres_keeps_a_seeded_subset_of_the_codes(mnist_codes):
    train, val, test = mnist_codes
    base = build_base("kde", {"max_centres": 300, "bandwidth_grid": [0.5, 1.0, 2.0]}, random_state=5)
    base.fit(train, validation=val)
    expected = train[np.random.default_rng(5).choice(len(train), 300, replace=False)]  # the base's first draw
    np.testing.assert_array_equal(base.centres_, expected)
    np.testing.assert_allclose(base.score_samples(test[:50]), exact_kde(test[:50], expected, base.bandwidth_)[0],
                               rtol=1e-4)
    whole = build_base("kde", {"bandwidth_grid": [0.5, 1.0, 2.0]}, random_state=5).fit(train, validation=val)
    assert len(whole.centres_) == len(train)
