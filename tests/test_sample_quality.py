"""Sample-quality metrics (Fréchet distance, k-NN precision/recall) in the features of the MNIST
classifier, on real MNIST (the offline split carved from the test images)."""

import json

import numpy as np
import pytest
import scipy.linalg
import torch

from iml.data import mnist
from iml.metrics import classifier
from iml.metrics.sample_quality import (
    frechet_distance,
    frechet_distance_from_stats,
    precision_recall,
    reference_samples,
    sample_quality,
)

# One short training shared by the module, smaller than the workflow's (the full-size run, which
# must reach 98%, is benchmarks/classifier_benchmark.py): on the 7000 offline training images it
# measured 96.95% test accuracy; the bar allows for thread-count rounding between machines.
# lr is pinned to the rate it was measured with (the workflow's default is now 2e-3).
TEST_SETTINGS = {"channels": [16, 32], "batch_size": 32, "epochs": 4, "lr": 1e-3, "shift": 0}
TEST_BAR = 0.96


@pytest.fixture(scope="module")
def splits(shared_data):
    files = {name: shared_data / "mnist" / name for name in mnist.POOL_FILES["test_only"]}
    arrays, _ = mnist.make_splits(files, "test_only", {"train": 7000, "validation": 1000, "test": 2000}, seed=0)
    return {k: mnist.to_float(v) if k.startswith("x_") else v for k, v in arrays.items()}


@pytest.fixture(scope="module")
def trained(splits):
    model, info = classifier.train_classifier(splits["x_train"], splits["y_train"], seed=0,
                                              settings=TEST_SETTINGS, device=torch.device("cpu"))
    return model, info


@pytest.fixture(scope="module")
def test_features(trained, splits):
    return classifier.features(trained[0], splits["x_test"])


def test_classifier_reaches_the_bar_on_the_offline_split(trained, splits):
    model, info = trained
    acc = classifier.check_accuracy(model, splits["x_test"], splits["y_test"], bar=TEST_BAR)
    assert TEST_BAR <= acc <= 1 and info["n_train"] == 7000
    feats = classifier.features(model, splits["x_test"][:10])
    assert feats.shape == (10, 128) and (feats >= 0).all()  # after the ReLU


def test_weak_classifier_is_refused_naming_accuracy_and_bar(splits):
    torch.manual_seed(0)
    untrained = classifier.MNISTClassifier()
    with pytest.raises(classifier.ClassifierTooWeak, match=r"reaches \d+\.\d\d% accuracy .* below the required 98\.00%"):
        classifier.check_accuracy(untrained, splits["x_test"], splits["y_test"])


def test_saved_classifier_gives_the_same_features(trained, splits, tmp_path):
    model, info = trained
    classifier.save_classifier(tmp_path / "c.pt", model, info["settings"])
    again = classifier.load_classifier(tmp_path / "c.pt")
    x = splits["x_test"][:50]
    np.testing.assert_array_equal(classifier.features(again, x), classifier.features(model, x))
    planted = tmp_path / "planted.pt"
    torch.save({"settings": {"channels": [32, 64], "features": 128}, "state_dict": object()}, planted)
    with pytest.raises(ValueError, match=f"{planted}: not a classifier"):
        classifier.load_classifier(planted)


def test_training_shifts_each_image_by_its_own_offset_with_blank_borders(splits):
    images = classifier.as_images(splits["x_train"][:64])
    shifted = classifier._shifted(images, 2, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    offsets = []
    for image, moved in zip(padded, shifted):
        found = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(image[:, dy : dy + 28, dx : dx + 28], moved)]
        assert found  # an exact translation, nothing wrapped around from the other side
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # one draw per image, not per batch


def test_images_of_the_wrong_shape_are_refused(trained):
    with pytest.raises(ValueError, match=r"expected N x 784 MNIST pixels, got shape \(3, 100\)"):
        classifier.features(trained[0], np.zeros((3, 100), np.float32))


def _closed_form(mu1, s1, mu2, s2):
    # the Wasserstein-2 form with the symmetric root (Σ₂^½ Σ₁ Σ₂^½)^½, via eigendecompositions
    def sym_sqrt(a):
        w, v = np.linalg.eigh(a)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    root2 = sym_sqrt(s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * sym_sqrt(root2 @ s1 @ root2)))


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)  # non-commuting covariances
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(_closed_form(mu1, s1, mu2, s2), rel=1e-9)
    # diagonal covariances: Σ (√a - √b)² + |μ₁ - μ₂|²
    assert frechet_distance_from_stats(np.zeros(2), np.diag([4.0, 1.0]), np.ones(2), np.diag([1.0, 9.0])) == \
        pytest.approx(1 + 4 + 2, rel=1e-12)


def test_frechet_distance_of_sampled_gaussians_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    s1, s2 = np.eye(4), a @ a.T + np.eye(4)
    mu2 = np.array([1.0, 0, 0, 2])
    x1 = rng.multivariate_normal(np.zeros(4), s1, 200_000)
    x2 = rng.multivariate_normal(mu2, s2, 200_000)
    assert frechet_distance(x1, x2) == pytest.approx(_closed_form(np.zeros(4), s1, mu2, s2), rel=0.02)


def test_frechet_distance_is_zero_for_identical_sets_and_symmetric(test_features, trained, splits):
    assert abs(frechet_distance(test_features, test_features)) < 1e-6 * np.trace(np.cov(test_features.T))
    train_features = classifier.features(trained[0], splits["x_train"][:2000])
    forward, backward = frechet_distance(test_features, train_features), frechet_distance(train_features, test_features)
    assert forward > 0 and backward == pytest.approx(forward, rel=1e-6)


def test_non_finite_features_are_refused_by_name(test_features):
    bad = test_features.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="sample features: 1 non-finite"):
        precision_recall(test_features, bad)


def test_blocks_do_not_change_precision_and_recall(test_features, trained, splits):
    samples = classifier.features(trained[0], splits["x_train"][:700])
    whole = precision_recall(test_features[:900], samples, block=4096)
    assert precision_recall(test_features[:900], samples, block=97) == whole
    # against a brute-force count from scipy's distances
    d_rr = scipy.spatial.distance.cdist(test_features[:900], test_features[:900])
    d_ss = scipy.spatial.distance.cdist(samples, samples)
    d_rs = scipy.spatial.distance.cdist(test_features[:900], samples)
    r_real, r_samples = np.sort(d_rr, 1)[:, 3], np.sort(d_ss, 1)[:, 3]
    assert whole["precision"] == pytest.approx((d_rs <= r_real[:, None]).any(0).mean(), abs=2e-3)
    assert whole["recall"] == pytest.approx((d_rs <= r_samples[None, :]).any(1).mean(), abs=2e-3)


def test_one_digit_is_precise_but_recalls_little(test_features, trained, splits):
    ones = splits["x_train"][splits["y_train"] == 1][:500]
    scores = precision_recall(test_features, classifier.features(trained[0], ones))
    assert scores["precision"] > 0.9 and scores["recall"] < 0.3


def test_references_training_images_near_the_floor_and_mean_image_far(test_features, trained, splits):
    refs = reference_samples(splits["x_train"], 2000, seed=0)
    assert refs["mean_image"].shape == (2000, 784) and np.ptp(refs["mean_image"], axis=0).max() == 0
    floor = sample_quality(test_features, classifier.features(trained[0], refs["training_images"]))
    mean = sample_quality(test_features, classifier.features(trained[0], refs["mean_image"]))
    assert floor["precision"] > 0.7 and floor["recall"] > 0.7
    assert mean["fid"] > 20 * floor["fid"] and mean["recall"] < 0.01
    with pytest.raises(ValueError, match="2000 reference samples .* holds 1000"):
        reference_samples(splits["x_train"][:1000], 2000, seed=0)


def test_train_classifier_step_fails_below_the_bar_and_writes_nothing(splits, tmp_path):
    from iml.io import save_npz
    from iml.steps import evaluate as steps

    save_npz(tmp_path / "splits.npz", **{k: v[:600] for k, v in splits.items()})
    settings = {"seed": 0, "accuracy_bar": 0.98, "channels": [8, 16], "features": 32, "epochs": 3,
                "batch_size": 32, "lr": 3e-3, "shift": 0}  # a few seconds' training: well above chance, below the bar
    paths = {"model_path": tmp_path / "c.pt", "summary_path": tmp_path / "c.json"}
    with pytest.raises(classifier.ClassifierTooWeak, match="600 test images, below the required 98.00%"):
        steps.train_classifier(tmp_path, settings, "cpu", **paths)
    assert not any(p.exists() for p in paths.values())
    steps.train_classifier(tmp_path, {**settings, "accuracy_bar": 0.5}, "cpu", **paths)
    summary = json.loads(paths["summary_path"].read_text())
    assert 0.5 <= summary["test_accuracy"] < 0.98 and summary["n_train"] == 600
    classifier.load_classifier(paths["model_path"])


@pytest.fixture(scope="module")
def step_dir(splits, trained, tmp_path_factory):
    """The module's split (500 test images) and classifier, as the workflow's steps read them."""
    from iml.io import save_json, save_npz

    folder = tmp_path_factory.mktemp("quality")
    save_npz(folder / "splits.npz", **{k: v[:500] if k.endswith("_test") else v for k, v in splits.items()})
    classifier.save_classifier(folder / "classifier.pt", trained[0], trained[1]["settings"])
    save_json(folder / "classifier.json", {"test_accuracy": 0.97})
    return folder


def test_quality_references_are_scored_as_a_run_samples_are(step_dir, splits, tmp_path):
    from iml.io import load_json, save_npz
    from iml.steps import evaluate as steps

    model, summary = step_dir / "classifier.pt", step_dir / "classifier.json"
    steps.quality_references(step_dir, model, summary, 3, "cpu", tmp_path / "references.json")
    refs = load_json(tmp_path / "references.json")
    assert refs["seed"] == 3 and refs["classifier_test_accuracy"] == 0.97
    # the memoriser's 500 seeded training images, given to the run's step as samples, score the same
    memoriser = reference_samples(splits["x_train"], 500, seed=3)["training_images"]
    save_npz(tmp_path / "memoriser.npz", samples=memoriser)
    steps.quality_scores(step_dir, model, summary, tmp_path / "memoriser.npz", "cpu", tmp_path / "q.json")
    scored = load_json(tmp_path / "q.json")
    for key in ("fid", "precision", "recall", "n_real", "n_samples"):
        assert scored[key] == pytest.approx(refs["training_images"][key], rel=1e-9), key
    assert refs["mean_image"]["fid"] > 20 * refs["training_images"]["fid"] and refs["mean_image"]["recall"] == 0


def test_fewer_samples_than_test_images_are_refused(step_dir, splits, tmp_path):
    from iml.io import save_npz
    from iml.steps import evaluate as steps

    save_npz(tmp_path / "few.npz", samples=splits["x_train"][:499])
    with pytest.raises(ValueError, match=r"few.npz: 499 samples, fewer than the 500 test images .*raise "
                                         r"evaluate.n_samples"):
        steps.quality_scores(step_dir, step_dir / "classifier.pt", step_dir / "classifier.json",
                             tmp_path / "few.npz", "cpu", tmp_path / "q.json")
    assert not (tmp_path / "q.json").exists()
