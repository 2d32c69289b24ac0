"""Codes a base cannot give a density to are refused by name, and each base scores the density it
samples from: near-constant dimensions, repeated codes, too few codes, the DPGMM's mixture."""

import numpy as np
import pytest

from iml.bases import build_base
from iml.bases.base import ConstantDimensionsError

STANDARDISING = {  # the bases that standardise the codes (or size their kernels by the codes' spread)
    "flow": {"transforms": 1, "hidden_features": [8], "epochs": 1},
    "hmm": {"n_states": 2, "n_iter": 2},
    "kde": {},
}


def pca_codes(images, n, dims):
    """Real codes: n MNIST test images on their first `dims` principal components."""
    x = images[:n].astype(np.float64)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:dims].T


@pytest.fixture(scope="module")
def codes3(mnist_test_images):
    return pca_codes(mnist_test_images, 400, 3)


@pytest.mark.parametrize("name", sorted(STANDARDISING))
@pytest.mark.parametrize("value", [0.3, 0.0])
def test_a_dimension_constant_up_to_rounding_is_refused_by_name(name, value, codes3):
    """A 4th dimension fixed at 0.3 has std 5.55e-17 by rounding: standardised, it credited each code
    with about 33 nats; fixed at 0.0 (std exactly 0) it was kept unstandardised. Both are refused."""
    codes = np.column_stack([codes3, np.full(len(codes3), value)])
    assert (codes[:, 3].std() > 0) == (value == 0.3)
    with pytest.raises(ConstantDimensionsError, match=r"1 of the 4 code dimensions are constant up to rounding.*"
                                                      rf"dimension\(s\) 3 \(std .*, mean {value:g}\)"):
        build_base(name, STANDARDISING[name], random_state=0).fit(codes)


@pytest.mark.parametrize("name", sorted(STANDARDISING))
def test_identical_codes_are_refused(name, codes3):
    """50 copies of one code: the KDE's mean log-density was 1.07e12, the flow's 104.6, the HMM's 79.7."""
    codes = np.repeat(codes3[:1] + 0.1, 50, axis=0)
    with pytest.raises(ConstantDimensionsError, match=r"3 of the 3 code dimensions are constant up to rounding"):
        build_base(name, STANDARDISING[name], random_state=0).fit(codes)


def test_a_small_but_real_spread_is_kept(codes3):
    codes = np.column_stack([codes3, 0.3 + 1e-3 * codes3[:, 0] / codes3[:, 0].std()])
    build_base("kde", {}, random_state=0).fit(codes)


def test_the_kde_on_too_few_codes_says_so():
    """Two codes leave one to place kernels at once one is held out: the message used to blame
    constant codes."""
    with pytest.raises(ValueError, match=r"KDE base: too few codes: 2 given, 1 left"):
        build_base("kde", {}, random_state=0).fit(np.array([[0.0, 1.0], [2.0, 3.0]]))


def test_the_dpgmm_scores_the_mixture_it_samples_from(mnist_test_images):
    """Its density integrates to 1 on a 2-D grid (scikit-learn's variational score_samples, used
    before, integrates to less), and its samples score as the mixture's own log-density says."""
    codes = pca_codes(mnist_test_images, 2000, 2)
    codes = codes / codes.std(0)
    base = build_base("dpgmm", {"max_components": 10}, random_state=0).fit(codes)
    lo, hi = codes.min(0) - 3, codes.max(0) + 3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 400), np.linspace(lo[1], hi[1], 400))
    density = np.exp(base.score_samples(np.stack([gx.ravel(), gy.ravel()], 1)))
    cell = (gx[0, 1] - gx[0, 0]) * (gy[1, 0] - gy[0, 0])
    assert density.sum() * cell == pytest.approx(1.0, abs=1e-3)
    # the mixture's parameters, from the GMM's storage, give the same numbers
    m = base.mixture
    from scipy.stats import multivariate_normal

    direct = np.log(sum(w * multivariate_normal(mu, cov).pdf(codes[:50])
                        for w, mu, cov in zip(m.weights_, m.means_, m.covariances_)))
    np.testing.assert_allclose(base.score_samples(codes[:50]), direct, rtol=1e-9)
