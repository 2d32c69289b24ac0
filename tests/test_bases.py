import numpy as np
import pytest
from scipy import stats

from iml.bases import BASES, build_base, load_base, save_base, spec_of
from iml.bases.base import NonFiniteCodesError


@pytest.fixture
def two_clusters():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-4, 1, (400, 3)), rng.normal(4, 0.5, (200, 3))])


SMALL = {"gmm": {"n_components": 2}, "dpgmm": {"max_components": 4}, "hmm": {"n_states": 2, "n_iter": 3, "device": "cpu"},
         "flow": {"epochs": 1, "hidden_features": [8]}}


def test_every_base_shares_the_interface(two_clusters):
    """fit, sample and score_samples of every registered base, at small settings (each base's density
    is checked in tests/test_new_bases.py)."""
    for name in BASES:
        base = build_base(name, SMALL.get(name, {}), random_state=0).fit(two_clusters)
        codes, _ = base.sample(50)
        assert codes.shape == (50, 3) and np.isfinite(codes).all(), name
        per_row = base.score_samples(codes)
        assert per_row.shape == (50,) and np.isfinite(per_row).all(), name
        assert base.settings()["random_state"] == 0 and "seed" not in base.settings()


def test_every_base_declares_what_it_can_do(two_clusters):
    """Each BaseSpec against its base: one fit contract (codes, lengths, validation),
    sample_sequences exactly where it says it models sequences, the components the memorisation
    audit counts, and its words for the tables from its fitted summary (base.json)."""
    for name, spec in BASES.items():
        base = build_base(name, SMALL.get(name, {}), random_state=0).fit(two_clusters, None, validation=two_clusters[:20])
        assert spec_of(base) is spec and spec.builder is type(base), name
        assert spec.sequential == hasattr(base, "sample_sequences"), name
        assert spec.components in (None, "mixture", "kernels"), name
        if spec.components:
            assert hasattr(base, {"mixture": "mixture", "kernels": "centres_"}[spec.components]), name
        summary = {"base": name, **base.fitted_summary()}
        assert isinstance(spec.choice(summary), str) and spec.title, name
        assert spec.note is None or isinstance(spec.note(summary), str), name


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
def test_gmm_samples_each_component_with_its_covariance(two_clusters, covariance_type):
    base = build_base("gmm", {"n_components": 2, "covariance_type": covariance_type}, random_state=0).fit(two_clusters)
    codes, labels = base.sample(40000)
    covariances = base.full_covariances()
    for k in range(2):
        drawn = codes[labels == k]
        assert len(drawn) / 40000 == pytest.approx(base.mixture.weights_[k], abs=0.01)
        np.testing.assert_allclose(drawn.mean(0), base.mixture.means_[k], atol=0.05)
        np.testing.assert_allclose(np.cov(drawn.T), covariances[k], atol=0.05 * np.abs(covariances[k]).max())
    if covariance_type != "full":  # the shape the type allows, as sklearn stores it
        off_diagonal = covariances[0] - np.diag(np.diag(covariances[0]))
        assert (covariance_type == "tied") or not off_diagonal.any()
        assert covariance_type != "spherical" or np.ptp(np.diag(covariances[1])) == 0
        assert covariance_type != "tied" or (covariances[0] == covariances[1]).all()


def test_gmm_recovers_clusters_and_samples_by_component(two_clusters):
    base = build_base("gmm", {"n_components": 2}, random_state=0).fit(two_clusters)
    codes, labels = base.sample(3000)
    assert sorted(np.bincount(labels) / 3000) == pytest.approx([1 / 3, 2 / 3], abs=0.03)
    for k in range(2):
        mean = codes[labels == k].mean(0)
        assert np.allclose(np.abs(mean), 4, atol=0.15)
        np.testing.assert_allclose(mean, base.mixture.means_[k], atol=0.15)
    np.testing.assert_allclose(base.score_samples(two_clusters), base.mixture.score_samples(two_clusters))


def test_gmm_score_is_the_mixture_density(two_clusters):
    base = build_base("gmm", {"n_components": 2}, random_state=0).fit(two_clusters)
    m = base.mixture
    x = two_clusters[:5]
    density = sum(w * stats.multivariate_normal(mu, cov).pdf(x)
                  for w, mu, cov in zip(m.weights_, m.means_, m.covariances_))
    np.testing.assert_allclose(base.score_samples(x), np.log(density), rtol=1e-8)


def test_sampling_is_seeded(two_clusters):
    a = build_base("gmm", {"n_components": 2}, random_state=3).fit(two_clusters).sample(10)[0]
    b = build_base("gmm", {"n_components": 2}, random_state=3).fit(two_clusters).sample(10)[0]
    np.testing.assert_array_equal(a, b)


def test_standard_normal_score():
    base = build_base("standard_normal", {}, random_state=0).fit(np.zeros((2, 4)))
    x = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_allclose(base.score_samples(x), stats.multivariate_normal(np.zeros(4), np.eye(4)).logpdf(x))


def test_nan_codes_are_refused_with_a_clear_message(two_clusters):
    codes = two_clusters.copy()
    codes[10, 1] = np.nan
    with pytest.raises(NonFiniteCodesError, match="1 of 600 codes contain NaN.*row 10"):
        build_base("gmm", {"n_components": 2}, random_state=0).fit(codes)


def test_too_few_codes(two_clusters):
    with pytest.raises(ValueError, match="at least that many codes"):
        build_base("gmm", {"n_components": 30}, random_state=0).fit(two_clusters[:10])


@pytest.mark.parametrize("name,settings", [
    ("gmm", {"n_components": 2, "covariance_type": "diag", "max_codes": 500}),
    ("gmm", {"n_components": 2}),
    ("hmm", {"n_states": 3, "n_iter": 5, "device": "cpu"}),
    ("standard_normal", {}),
])
def test_a_stored_base_samples_and_scores_as_the_fitted_one(two_clusters, tmp_path, name, settings):
    base = build_base(name, settings, random_state=4).fit(two_clusters, [100, 500] if name == "hmm" else None)
    save_base(tmp_path / "base.npz", name, base)
    loaded = load_base(tmp_path / "base.npz")
    assert type(loaded) is type(base)
    np.testing.assert_array_equal(loaded.score_samples(two_clusters), base.score_samples(two_clusters))
    for (a, la), (b, lb) in zip([loaded.sample(20), loaded.sample(5)], [base.sample(20), base.sample(5)]):
        np.testing.assert_array_equal(a, b)  # the same draws: the generator's state is stored too
        np.testing.assert_array_equal(la, lb)


def test_a_planted_pickle_is_refused_without_running_it(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    np.save(tmp_path / "x.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    (tmp_path / "x.npy").rename(tmp_path / "base.npz")
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps(Payload()))
    for planted in ("base.npz", "pickled.npz"):
        with pytest.raises(ValueError, match=f"{planted}: not a base distribution"):
            load_base(tmp_path / planted)
    assert not (tmp_path / "ran").exists()


