"""The workflow's steps called directly, without Snakemake, on real data: MNIST through a dataset
module (download from the mirror, preprocess, load), one run through training, base, sampling, KDE
and the exact likelihood, and the CELEB-A module on the real sample faces."""

import csv
import json

import numpy as np
import pytest
import torch
import yaml

from iml import data
from iml.data import mnist
from iml.models import load_model
from iml.steps import evaluate, train
from tests.helpers import REPO, celeba_sample_or_skip

SIZES = yaml.safe_load((REPO / "presets" / "quick.yaml").read_text())["data"]["mnist"]["sizes"]


@pytest.fixture(scope="module")
def mnist_dir(mnist_quick_split):
    """MNIST's data module end to end (tests/conftest.py): the test files fetched through the data copy
    as a mirror, then split as the quick preset splits them."""
    return mnist_quick_split


def test_mnist_room_gives_the_real_images_at_its_pixel_range(mnist_dir, shared_data):
    info = json.loads((mnist_dir / "splits.json").read_text())
    assert info["counts"] == SIZES and info["pool"] == "test_only"
    raw = data.load_split(mnist_dir, "train", raw=True)
    assert raw.dtype == np.uint8 and raw.shape == (SIZES["train"], 784)
    originals = mnist.read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    assert (originals == raw[0]).all(axis=1).any()  # a real test image, unchanged
    assert data.pixel_range(mnist_dir) == mnist.PIXEL_RANGE == (0.0, 1.0)
    test = data.load_split(mnist_dir, "test", limit=50)
    assert test.dtype == np.float32 and test.shape == (50, 784)
    np.testing.assert_allclose(test, data.load_split(mnist_dir, "test", raw=True)[:50] / 255.0, atol=1e-6)
    assert data.display_images(test[:3], mnist_dir).shape == (3, 28, 28)
    # the rules declare splits.json: every function takes it as well as the folder
    np.testing.assert_array_equal(data.load_split(mnist_dir / "splits.json", "test", limit=50), test)
    assert data.dataset_name(mnist_dir / "splits.json") == "mnist" and data.has_split(mnist_dir, "validation")
    labels = data.load_labels(mnist_dir, "train")
    assert labels.shape == (SIZES["train"],) and set(labels) <= set(range(10))
    assert data.sequence_lengths(mnist_dir, "train") is None  # image rows stand alone


def test_display_images_refuses_rows_or_datasets_it_cannot_show():
    with pytest.raises(ValueError, match="mnist rows have length 784"):
        data.display_images(np.zeros((2, 100)), "mnist")
    with pytest.raises(ValueError, match="fsdd_digit0: not an image dataset"):
        data.display_images(np.zeros((2, 784)), "fsdd_digit0")


def test_one_run_trains_fits_its_base_samples_and_scores(mnist_dir, tmp_path, one_thread):
    run = tmp_path / "run"
    settings = {"model": {"hidden": 64}, "train": {"epochs": 2, "batch_size": 100, "lr": 1e-3}}
    train.train_model(mnist_dir, "iml", 5, settings, 0, "cpu", run / "model.pt", run / "loss.csv",
                      [run / "loss.png"], run / "train.ckpt")
    with open(run / "loss.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 2 and losses[1] < losses[0] and not (run / "train.ckpt").exists()

    gmm = {"n_components": 3, "covariance_type": "full", "n_init": 1, "max_iter": 100, "reg_covar": 1e-6,
           "max_codes": None}
    train.fit_base(mnist_dir, run / "model.pt", "gmm", gmm, 0, run / "base.npz", run / "base.json")
    fitted = json.loads((run / "base.json").read_text())
    assert fitted["base"] == "gmm" and fitted["n_components"] == 3 and fitted["fit_seconds"] > 0
    assert fitted["n_codes"] == SIZES["train"] and fitted["n_validation_codes"] == SIZES["validation"]
    assert fitted["provenance"]["settings_hash"] and fitted["provenance"]["device"] == "cpu"
    evaluate.generate(run / "model.pt", run / "base.npz", 400, 16, run / "samples.npz", [run / "samples.png"],
                      "mnist")
    samples = np.load(run / "samples.npz")
    # the output sigmoid has linear tails (sigmoid_invt): a sample may pass 0 or 1 by a hair
    assert samples["samples"].shape == (400, 784) and -0.01 < samples["samples"].min() <= samples["samples"].max() < 1.01
    assert set(np.unique(samples["components"])) <= {0, 1, 2} and (run / "samples.png").stat().st_size > 0

    kde_settings = {"block_rows": 128, "block_cols": 256, "paper": {"sigma": 0.2, "n_per_draw": 100, "n_draws": 4},
                    "standard": {"n_samples": 400, "sigma_grid": {"min": 0.1, "max": 0.5, "num": 3}}}
    evaluate.kde_scores(mnist_dir, run / "samples.npz", kde_settings, run / "kde.json")
    kde = json.loads((run / "kde.json").read_text())
    assert len(kde["paper"]["draws"]) == 4 and kde["paper"]["n_test"] == SIZES["test"]
    assert np.isfinite(kde["paper"]["mean"]) and kde["split"]["counts"] == SIZES
    assert 0.1 <= kde["standard"]["sigma"] <= 0.5

    evaluate.exact_likelihood(mnist_dir, run / "model.pt", run / "base.npz", None, run / "lik.npz", run / "lik.json")
    arrays, summary = np.load(run / "lik.npz"), json.loads((run / "lik.json").read_text())
    assert summary["n_test"] == SIZES["test"] and len(arrays["exact"]) == SIZES["test"]
    term = (arrays["exact"] - arrays["exact_without_sigmoid"]).mean()
    assert term == pytest.approx(summary["output_sigmoid_term_mean"])
    assert term >= 784 * np.log(4)  # the inverse sigmoid's -log σ'(a) is at least log 4 per pixel
    assert summary["n_manifold"] == 0 and summary["manifold_term_mean"] is None  # not asked for: not computed

    stamp = {"provenance": {"settings_hash": "abc"}}
    evaluate.exact_likelihood(mnist_dir, run / "model.pt", run / "base.npz", None, run / "lik.npz", run / "lik.json",
                              stamp, n_manifold=3)
    summary, manifold = json.loads((run / "lik.json").read_text()), np.load(run / "lik.npz")["manifold_term"]
    model = load_model(run / "model.pt").double()
    codes = model.encode(torch.as_tensor(data.load_split(mnist_dir, "test", 3), dtype=torch.float64))
    for code, term in zip(codes, manifold):  # −½ log det JᵀJ with autograd's Jacobian, image by image
        jac = torch.autograd.functional.jacobian(model.decode, code)
        assert term == pytest.approx(-0.5 * torch.logdet(jac.T @ jac).item(), rel=1e-9)
    assert summary["n_manifold"] == 3 and summary["manifold_term_mean"] == pytest.approx(manifold.mean())
    assert summary["provenance"] == stamp["provenance"]

    evaluate.memorisation_audit(mnist_dir, run / "model.pt", run / "base.npz", run / "samples.npz",
                                {"n_samples": 300, "n_cells": 4, "seed": 0}, run / "memorisation.json", stamp)
    audit = json.loads((run / "memorisation.json").read_text())
    assert audit["n_samples"] == 300 and audit["n_train"] == SIZES["train"] and audit["n_test"] == SIZES["test"]
    assert 0 <= audit["near_copy_fraction"] <= 1 and np.isfinite(audit["c_t"]) and len(audit["closest"]) == 8
    assert audit["base_components"]["components"] == 3 and audit["provenance"] == stamp["provenance"]


def test_celeba_room_gives_faces_in_minus_one_to_one(shared_data, tmp_path):
    from iml.data import celeba, images

    faces = celeba_sample_or_skip(shared_data) / "img_align_celeba"
    settings = {"margin": 0.1, "split_sizes": {"test": 5, "validation": 3}, "on_no_face": "fallback"}
    data_dir = tmp_path / "celeba"  # data/<dataset>/: the folder names the dataset
    celeba.preprocess(faces, None, settings, threads=1, seed=0, data_dir=data_dir)
    assert json.loads((data_dir / "splits.json").read_text())["counts"]["test"] == 5
    assert data.pixel_range(data_dir) == celeba.PIXEL_RANGE == (-1.0, 1.0)
    x = data.load_split(data_dir, "test")
    assert x.shape == (5, images.DATA_DIM) and x.dtype == np.float32 and -1 <= x.min() < x.max() <= 1
    stored = celeba.load_split_images(data_dir / "test.npy")
    np.testing.assert_array_equal(images.to_uint8(images.to_image(x)), stored)  # rows are the stored faces
    shown = data.display_images(x, data_dir)
    assert shown.shape == (5, 64, 64, 3) and 0 <= shown.min() and shown.max() <= 1


def test_a_missing_celeba_source_says_where_to_get_it(tmp_path):
    from iml.data import celeba

    with pytest.raises(celeba.CelebAMissingError, match="img_align_celeba.zip") as err:
        celeba.preprocess(tmp_path / "nowhere.zip", None, {"margin": 0.1, "split_sizes": None,
                                                           "on_no_face": "fallback"}, 1, 0, tmp_path / "out")
    assert str(tmp_path / "nowhere.zip") in str(err.value) and not (tmp_path / "out").exists()


def test_nearest_samples_are_the_brute_force_nearest(mnist_test_images):
    from scipy.spatial.distance import cdist

    from iml.steps.figures import nearest_samples

    test, samples = mnist_test_images[:300], mnist_test_images[300:2300]
    nearest = nearest_samples(test, samples, batch=64)  # several blocks
    distances = cdist(test, samples)
    np.testing.assert_allclose(np.linalg.norm(nearest - test, axis=1), distances.min(1), rtol=1e-5)
    assert (nearest_samples(samples[:40], samples) == samples[:40]).all()  # a sample is its own nearest


def test_figure_4_shows_the_nearest_sample_under_each_test_image(mnist_dir, tmp_path, monkeypatch):
    from iml.io import save_npz
    from iml.steps import figures

    shown = []
    monkeypatch.setattr(figures.plots, "image_rows", lambda rows, labels, paths: shown.append((rows, labels)))
    samples = data.load_split(mnist_dir, "train", limit=600)
    components = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [300, 200, 100]))
    save_npz(tmp_path / "iml.npz", samples=samples, components=components)
    save_npz(tmp_path / "vae.npz", samples=samples[::-1].copy(), components=components)
    figures.figure_nearest(mnist_dir, [tmp_path / "iml.npz", tmp_path / "vae.npz"], ["iml", "vae"], 6, 0,
                           [], [], tmp_path / "iml.npz", 2)
    (rows, labels), (groups, group_labels) = shown
    assert labels == ["test", "IML", "VAE"] and [len(r) for r in rows] == [6, 6, 6]
    test = data.load_split(mnist_dir, "test")
    chosen = rows[0].reshape(6, 784)
    assert all((test == image).all(1).any() for image in chosen)  # real test images
    for row in rows[1:]:
        expected = samples[np.argmin(((chosen[:, None] - samples[None]) ** 2).sum(-1), 1)]
        np.testing.assert_array_equal(row.reshape(6, 784), expected)
    assert group_labels == ["component 0", "component 1"]  # the two most frequent, most first
    np.testing.assert_array_equal(groups[1].reshape(-1, 784), samples[components == 1][:6])
