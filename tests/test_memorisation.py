"""The memorisation audit on real MNIST: training images fed back as samples are near-copies and
C_T strongly negative; fresh images are near-copies about 1% of the time and C_T near 0."""

import numpy as np
import pytest
from scipy import stats

from iml.bases import build_base
from iml.metrics import memorisation


@pytest.fixture(scope="module")
def splits(mnist_test_images):
    """Disjoint real images: 4000 training, 1000 test (the reference), 1000 fresh."""
    x = mnist_test_images
    return x[:4000], x[4000:5000], x[5000:6000]


def test_nearest_distances_match_a_direct_search(splits):
    train, test, _ = splits
    d, index = memorisation.nearest_distances(test[:50], train[:700], block=16)
    direct = np.linalg.norm(test[:50, None].astype(np.float64) - train[None, :700], axis=2)
    np.testing.assert_array_equal(index, direct.argmin(1))
    np.testing.assert_allclose(d, direct.min(1), rtol=1e-12)


def test_training_images_fed_back_are_copies(splits):
    train, test, _ = splits
    result = memorisation.audit(train, test, train[:1000], n_cells=10, seed=0)
    assert result["near_copy_fraction"] == 1.0
    assert result["closest"][0]["distance"] == 0.0 and result["closest"][0]["train"] == result["closest"][0]["sample"]
    assert result["c_t"] < -10, result  # every in-cell U is 0: z about -sqrt(3 m n / (m + n + 1))
    assert result["cells_used"] >= 8


def test_fresh_images_are_not(splits):
    train, test, fresh = splits
    result = memorisation.audit(train, test, fresh, n_cells=10, seed=0)
    assert result["near_copy_fraction"] < 0.03, result  # ~1% by construction of the threshold
    assert abs(result["c_t"]) < 2.5, result
    assert result["sample_distance_median"] == pytest.approx(result["test_distance_median"], rel=0.05)


def test_mann_whitney_z_sign():
    small, large = np.arange(30.0), np.arange(30.0) + 100
    assert memorisation.mann_whitney_z(small, large) < -6 < 6 < memorisation.mann_whitney_z(large, small)
    assert memorisation.mann_whitney_z(small, small) == 0.0
    rng = np.random.default_rng(0)  # with ties: the U of scipy's test, z-scored under the null
    a, b = np.round(rng.normal(size=300), 1), np.round(rng.normal(0.2, 1, size=400), 1)
    u = stats.mannwhitneyu(a, b).statistic
    assert memorisation.mann_whitney_z(a, b) == pytest.approx((u - 300 * 400 / 2) / np.sqrt(300 * 400 * 701 / 12))


def test_gmm_component_on_two_codes_is_found(splits):
    train, _, _ = splits
    centred = train[:500] - train[:500].mean(0)
    codes = centred @ np.linalg.svd(centred, full_matrices=False)[2][:5].T  # 5 principal components
    outlier = codes.max(0) + 100.0  # two codes far from every other: a component of their own
    codes = np.vstack([codes, outlier, outlier + 0.01])
    base = build_base("gmm", {"n_components": 4}, 0).fit(codes)
    found = memorisation.small_components(base, codes)
    assert found["components"] == 4 and found["small"] == 1
    assert found["small_weight"] == pytest.approx(2 / len(codes), rel=1e-3)
    kde = build_base("kde", {}, 0).fit(codes[:400], validation=codes[400:])
    assert memorisation.small_components(kde, codes)["small"] == len(kde.centres_)
    assert memorisation.small_components(build_base("standard_normal", {}, 0).fit(codes), codes) is None
