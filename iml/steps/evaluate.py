"""Evaluation of one image run: samples, KDE scores, sample quality, the exact likelihood (Eq. 6)
and the memorisation audit (the audio runs' evaluation is in iml.steps.audio)."""

import logging
import time

import numpy as np
import torch

from iml import plots
from iml.bases import load_base, spec_of
from iml.data import display_images, load_labels, load_split, split_info
from iml.device import pick_device
from iml.io import load_json, load_npz, save_json, save_npz
from iml.metrics import classifier, kde, sample_quality
from iml.models import load_model
from iml.provenance import provenance
from iml.steps.train import encode

log = logging.getLogger("iml")


def generate(model_path, base_path, n_samples, n_grid, samples_path, grid_paths, dataset):
    """`n_samples` samples of the run; the first `n_grid` shown as the image dataset `dataset`'s images."""
    model, base = load_model(model_path), load_base(base_path)
    codes, components = base.sample(n_samples)
    with torch.no_grad():
        x = model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()
    arrays = {"samples": x.astype(np.float32), "codes": codes}
    if components is not None:
        arrays["components"] = components
    save_npz(samples_path, **arrays)
    plots.image_grid(display_images(x[:n_grid], dataset), grid_paths, title="random samples")


def kde_scores(data_dir, samples_path, settings, out_path, stamp=None):
    samples = load_npz(samples_path)["samples"]
    test, validation = load_split(data_dir, "test"), load_split(data_dir, "validation")
    blocks = {"block_rows": settings["block_rows"], "block_cols": settings["block_cols"]}
    p = settings["paper"]
    t0 = time.perf_counter()
    draws = kde.paper_kde_score(test, samples, p["sigma"], p["n_per_draw"], p["n_draws"], **blocks)
    s = settings["standard"]
    grid = np.geomspace(s["sigma_grid"]["min"], s["sigma_grid"]["max"], s["sigma_grid"]["num"])
    standard = kde.standard_kde_score(validation, test, samples[: s["n_samples"]], grid, **blocks)
    result = {
        "split": split_info(data_dir),
        "paper": {**p, "draws": draws.tolist(), "mean": float(draws.mean()),
                  "std": float(draws.std(ddof=1)) if len(draws) > 1 else 0.0, "n_test": len(test)},
        "standard": standard,
    }
    log.info("KDE paper convention %.2f ± %.2f over %d draws; standard %.2f ± %.2f (σ = %.3g) [%.1f s]",
             result["paper"]["mean"], result["paper"]["std"], len(draws), standard["mean"],
             standard["sem"], standard["sigma"], time.perf_counter() - t0)
    save_json(out_path, {**result, **(stamp or {})})


def train_classifier(data_dir, settings, device, model_path, summary_path):
    """The feature classifier of the sample-quality metrics, trained on the training split; fails
    (writing nothing) when its test accuracy is below settings["accuracy_bar"]."""
    y_train, y_test = load_labels(data_dir, "train"), load_labels(data_dir, "test")
    x_test = load_split(data_dir, "test")
    model_settings = {k: v for k, v in settings.items() if k not in ("seed", "accuracy_bar")}
    model, run = classifier.train_classifier(load_split(data_dir, "train"), y_train, settings["seed"],
                                             model_settings, pick_device(device))
    log.info("feature classifier trained in %.1f s on %s", run["seconds"], run["device"])
    acc = classifier.check_accuracy(model, x_test, y_test, settings["accuracy_bar"])  # the error names both
    log.info("feature classifier: test accuracy %.2f%% (bar %.2f%%)", 100 * acc, 100 * settings["accuracy_bar"])
    classifier.save_classifier(model_path, model, run["settings"])
    save_json(summary_path, {**run, "test_accuracy": acc, "accuracy_bar": settings["accuracy_bar"],
                             "n_test": len(x_test)})


def _classifier_features(classifier_path, device):
    model = classifier.load_classifier(classifier_path, pick_device(device))
    return lambda images: classifier.features(model, images)


def quality_scores(data_dir, classifier_path, classifier_summary, samples_path, device, out_path, stamp=None):
    """FID, precision and recall (k = 3) of a run's samples against the test images, in the feature
    classifier's penultimate features; as many samples as test images (the run's first), since
    both metrics depend on the set sizes."""
    test = load_split(data_dir, "test")
    samples = load_npz(samples_path)["samples"]
    if len(samples) < len(test):
        raise ValueError(f"{samples_path}: {len(samples)} samples, fewer than the {len(test)} test images "
                         "the sample-quality metrics compare them with; raise evaluate.n_samples")
    features = _classifier_features(classifier_path, device)
    scores = sample_quality.sample_quality(features(test), features(samples[: len(test)]))
    log.info("sample quality: FID %.2f, precision %.3f, recall %.3f (%d samples vs %d test images)",
             scores["fid"], scores["precision"], scores["recall"], len(test), len(test))
    save_json(out_path, {**scores, "classifier_test_accuracy": load_json(classifier_summary)["test_accuracy"],
                         **(stamp or {})})


def quality_references(data_dir, classifier_path, classifier_summary, seed, device, out_path):
    """The sample-quality metrics of the two references, scored like a run's samples: training
    images (what a memoriser reaches) and the mean training image repeated."""
    test = load_split(data_dir, "test")
    features = _classifier_features(classifier_path, device)
    real = features(test)
    references = sample_quality.reference_samples(load_split(data_dir, "train"), len(test), seed)
    result = {name: sample_quality.sample_quality(real, features(images)) for name, images in references.items()}
    log.info("references: %s", {k: round(v["fid"], 2) for k, v in result.items()})
    save_json(out_path, {**result, "seed": seed,
                         "classifier_test_accuracy": load_json(classifier_summary)["test_accuracy"]})


def manifold_term(model, codes):
    """−½ log det JᵀJ of the decoder at each code (J: its data_dim x K Jacobian): the log change of
    volume from the K-dimensional codes onto the decoder's manifold of images, the term a density
    on that manifold adds to the base's. Eq. 6's per-layer terms equal it only for square layers."""
    from torch.func import jvp

    # column k of every image's Jacobian in one forward-mode pass over the batch (the decoder maps
    # each row on its own); vmap(jacfwd) gives the same to 1e-13 but costs a second of set-up per process
    eye = torch.eye(codes.shape[1], dtype=codes.dtype)
    jacobians = torch.stack([jvp(model.decode, (codes,), (eye[k].expand_as(codes),))[1]
                             for k in range(codes.shape[1])], dim=2)  # (n, data_dim, K)
    return -0.5 * torch.linalg.slogdet(jacobians.transpose(1, 2) @ jacobians)[1]


def exact_likelihood(data_dir, model_path, base_path, n_test, arrays_path, summary_path, stamp=None, n_manifold=0):
    """Eq. 6 on test images, the paper's per-layer change of variables: base log-density of f⁻¹(x)
    + log V(x), with and without the output sigmoid's Jacobian term (which the authors' code drops);
    exact only for square layers. Beside it, on the first `n_manifold` test images, the decoder's
    manifold term −½ log det JᵀJ (manifold_term), which a density on the K-dimensional manifold uses
    in place of Eq. 6's per-layer terms."""
    from scipy import stats

    model, base = load_model(model_path).double(), load_base(base_path)
    x = torch.as_tensor(load_split(data_dir, "test", n_test), dtype=torch.float64)
    with torch.no_grad():
        codes, log_volume = model.log_volume(x)
        _, log_volume_no_sigmoid = model.log_volume(x, output_sigmoid=False)
        manifold = manifold_term(model, codes[:n_manifold]).numpy()
    base_ll = base.score_samples(codes.numpy())
    exact, exact_no_sigmoid = base_ll + log_volume.numpy(), base_ll + log_volume_no_sigmoid.numpy()
    save_npz(arrays_path, exact=exact, exact_without_sigmoid=exact_no_sigmoid, base=base_ll, manifold_term=manifold)
    summary = {"n_test": len(x), "base_mean": float(base_ll.mean()),
               "output_sigmoid_term_mean": float((exact - exact_no_sigmoid).mean()),
               **manifold_summary(manifold, base_ll[:n_manifold], exact[:n_manifold])}
    for suffix, values in (("", exact), ("_without_sigmoid", exact_no_sigmoid)):
        summary.update({f"pearson_r{suffix}": float(stats.pearsonr(values, base_ll)[0]),
                        f"spearman_rho{suffix}": float(stats.spearmanr(values, base_ll)[0]),
                        f"exact_mean{suffix}": float(values.mean())})
    log.info("Eq. 6 vs base log-likelihood: Pearson r = %.3f with the output sigmoid's term, %.3f without "
             "(the term averages %.1f nats); manifold term %s nats on %d images", summary["pearson_r"],
             summary["pearson_r_without_sigmoid"], summary["output_sigmoid_term_mean"],
             summary["manifold_term_mean"], summary["n_manifold"])
    save_json(summary_path, {**summary, **(stamp or {})})


def manifold_summary(manifold, base_ll, eq6):
    """The manifold term's mean, and on the same images the base plus that term beside Eq. 6's mean;
    None where no image was measured."""
    if not len(manifold):
        return {"n_manifold": 0, "manifold_term_mean": None, "manifold_ll_mean": None, "eq6_mean_on_manifold_subset": None}
    return {"n_manifold": len(manifold), "manifold_term_mean": float(manifold.mean()),
            "manifold_ll_mean": float((base_ll + manifold).mean()), "eq6_mean_on_manifold_subset": float(eq6.mean())}


def memorisation_audit(data_dir, model_path, base_path, samples_path, settings, out_path, stamp=None):
    """How close the run's samples (the first settings["n_samples"]; null: all) lie to the training
    images, against the test images (iml.metrics.memorisation.audit), and for a GMM-type or KDE base
    its components covering one or two training codes."""
    from iml.metrics import memorisation

    t0 = time.perf_counter()
    train, test = load_split(data_dir, "train"), load_split(data_dir, "test")
    samples = load_npz(samples_path)["samples"][: settings["n_samples"]]
    result = memorisation.audit(train, test, samples.reshape(len(samples), -1), settings["n_cells"], settings["seed"])
    model, base = load_model(model_path), load_base(base_path)
    components = None
    if hasattr(model, "encode") and spec_of(base).components:
        components = memorisation.small_components(base, encode(model, train))
    result["base_components"] = components
    log.info("memorisation: %.2f%% of %d samples nearer a training image than the 1st percentile of the test "
             "images (%.3f); C_T %.2f over %d cells; base components on one or two codes %s [%.1f s]",
             100 * result["near_copy_fraction"], len(samples), result["near_copy_threshold"], result["c_t"],
             result["cells_used"], components, time.perf_counter() - t0)
    save_json(out_path, {**result, **(stamp or {})})


def evaluate_run(data_dir, model_path, base_path, n_samples, n_grid, kde_settings, n_test, classifier,
                 classifier_summary, device, outputs, settings=None, memorisation=None, n_manifold=0):
    """Everything a run is scored on, in one process: samples (outputs["samples"], ["grid"]), KDE
    scores (["kde"]) and, where `outputs` names them, the sample-quality metrics (["quality"], with the
    feature classifier), the Eq. 6 likelihood (["likelihood_arrays"], ["likelihood"]; with the manifold
    term on `n_manifold` test images) and the memorisation audit (["memorisation"], with the
    `memorisation` settings). Each summary
    records its provenance (iml.provenance), `settings` being what produced the run (its seed and K aside).
    `data_dir`: the image dataset's folder or its splits.json (iml.data)."""
    stamp = {"provenance": provenance(settings, pick_device(device))}
    generate(model_path, base_path, n_samples, n_grid, outputs["samples"], [outputs["grid"]],
             data_dir)
    kde_scores(data_dir, outputs["samples"], kde_settings, outputs["kde"], stamp)
    if "quality" in outputs:
        quality_scores(data_dir, classifier, classifier_summary, outputs["samples"], device, outputs["quality"], stamp)
    if "likelihood" in outputs:
        exact_likelihood(data_dir, model_path, base_path, n_test, outputs["likelihood_arrays"],
                         outputs["likelihood"], stamp, n_manifold)
    if "memorisation" in outputs:
        memorisation_audit(data_dir, model_path, base_path, outputs["samples"], memorisation,
                           outputs["memorisation"], stamp)
