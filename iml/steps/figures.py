"""The figure experiments: Fig. 1 (toy 2-D), Fig. 2 (two digits, a model of its own), Figs. 4-5
(nearest samples, IML by component), Figs. 6-8 (spectrograms); and the memorisation audit's
closest sample/training pairs."""

import logging
from pathlib import Path

import numpy as np
import torch

from iml import plots
from iml.bases import build_base
from iml.data import audio, display_images, load_audio_split, load_labels, load_split, mnist
from iml.device import pick_device
from iml.io import load_json, load_npz, save_json
from iml.models import build_model, load_model
from iml.steps.train import encode
from iml.training import seed_everything, train

log = logging.getLogger("iml")


def figure_toy2d(settings, figure_paths, summary_path):
    """Fig. 1 and each model's log-likelihoods."""
    from iml import toy2d

    x_train, panels, reference = toy2d.run(**settings)
    plots.toy2d_panels(x_train, panels, figure_paths)
    keep = ("name", "W", "b", "test_log_likelihood", "samples_true_log_likelihood", "mode_fractions")
    summary = {"true_mixture_test_log_likelihood": reference,
               "models": [{k: p[k] for k in keep} for p in panels]}
    for p in summary["models"]:
        log.info("%s: test log-likelihood %.3f (true mixture %.3f); samples under the true mixture %.3f; "
                 "fraction of samples per mode %s", p["name"], p["test_log_likelihood"], reference,
                 p["samples_true_log_likelihood"], p["mode_fractions"])
    save_json(summary_path, summary)


def figure_two_digits(data_dir, settings, seed, device, figure_paths, checkpoint_path):
    """Fig. 2: IML with K = 2 on two digit classes and a GMM base."""
    y_train = load_labels(data_dir, "train")
    keep = np.isin(y_train, settings["digits"])
    x, labels = mnist.to_float(load_split(data_dir, "train", raw=True)[keep]), y_train[keep]
    seed_everything(seed)
    model = build_model("iml", 2, x.shape[1], {"hidden": settings["hidden"]})
    train(model, x, {**settings["train"], "seed": seed}, checkpoint_path, pick_device(device),
          model_settings={"algorithm": "iml", "K": 2, "hidden": settings["hidden"]})
    model = model.cpu().eval()
    codes = encode(model, x)
    base = build_base("gmm", {"n_components": settings["n_components"]}, seed).fit(codes)
    sample_codes, _ = base.sample(settings["n_decoded"])
    with torch.no_grad():
        shown = torch.as_tensor(x[:10])
        reconstructions = model.reconstruct(shown).numpy()
        sample_images = model.decode(torch.as_tensor(sample_codes, dtype=torch.float32)).numpy()
    plots.two_dimensional_codes(x[:10], reconstructions, codes, labels, base.mixture, sample_codes,
                                sample_images, figure_paths)
    Path(checkpoint_path).unlink(missing_ok=True)


def nearest_samples(test, samples, batch=1024):
    """For each test row, the generated sample nearest in Euclidean distance."""
    from iml.metrics.memorisation import nearest_distances

    return samples[nearest_distances(test, samples, batch)[1]]


def figure_nearest(data_dir, sample_paths, algorithms, n_images, seed, nearest_paths,
                   component_paths, iml_samples_path, n_components_shown):
    """Fig. 4: nearest generated sample of each algorithm to random test images, and IML
    samples grouped by the GMM component they came from."""
    test = load_split(data_dir, "test")
    chosen = test[np.random.default_rng(seed).choice(len(test), n_images, replace=False)]
    rows = [chosen] + [nearest_samples(chosen, load_npz(p)["samples"]) for p in sample_paths]
    plots.image_rows([display_images(r, data_dir) for r in rows], ["test"] + [a.upper() for a in algorithms], nearest_paths)
    iml = load_npz(iml_samples_path)
    counts = np.bincount(iml["components"])
    top = np.argsort(counts)[::-1][:n_components_shown]
    groups = [display_images(iml["samples"][iml["components"] == k][:n_images], data_dir) for k in top]
    plots.image_rows(groups, [f"component {k}" for k in top], component_paths)


def figure_memorisation(data_dir, labels, sample_paths, memorisation_paths, n_pairs, paths):
    """Per algorithm (a row each, labelled with its near-copy fraction and C_T) its `n_pairs`
    samples closest to a training image, each followed by that training image."""
    train = load_split(data_dir, "train")
    rows, names = [], []
    for label, samples_path, audit_path in zip(labels, sample_paths, memorisation_paths):
        samples, audit = load_npz(samples_path)["samples"], load_json(audit_path)
        pairs = audit["closest"][:n_pairs]
        shown = np.stack([x for p in pairs for x in (samples[p["sample"]], train[p["train"]])])
        rows.append(display_images(shown, data_dir))
        names.append(f"{label}\nnear-copies {100 * audit['near_copy_fraction']:.1f}%, C_T {audit['c_t']:.1f}")
    plots.image_rows(rows, names, paths)


def audio_figures(dataset, data_dir, model_path, wav_path, seconds, hop, spectrogram_paths,
                  reconstruction_paths):
    """Spectrograms of training audio beside generated audio (Figs. 6-8), and the autoencoder's
    reconstruction of a held-out recording beside the original."""
    x_train, _ = load_audio_split(data_dir, "train")
    x_test, lengths_test = load_audio_split(data_dir, "test")
    n_frames = int(np.ceil(seconds * audio.SAMPLE_RATE / hop))
    training = audio.overlap_add(x_train[:n_frames], hop)  # the first recordings, in order
    generated, _ = audio.read_audio(wav_path)
    plots.spectrograms([training, generated[: len(training)] if len(generated) > len(training) else generated],
                       ["training audio", "generated"], dataset, spectrogram_paths)
    model = load_model(model_path)
    first = x_test[: lengths_test[0]]
    with torch.no_grad():
        rebuilt = model.reconstruct(torch.as_tensor(first)).numpy()
    plots.spectrograms([audio.overlap_add(first, hop), audio.overlap_add(rebuilt, hop)],
                       ["held-out recording", "autoencoder reconstruction"], dataset, reconstruction_paths)
