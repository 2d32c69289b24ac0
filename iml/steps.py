"""One function per workflow step: paths and settings in, files out. The workflow scripts only
unpack the `snakemake` object and call these, so every step runs and is tested without Snakemake."""

import csv
import io
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from iml import plots, tables
from iml.bases import build_base, load_base, save_base
from iml.data import celeba, download, mnist
from iml.io import load_json, load_npz, save_json, save_npz, save_text
from iml.metrics import kde
from iml.models import build_model, dcgan, load_model, save_model
from iml.training import pick_device, seed_everything, train

log = logging.getLogger("iml")


def log_to_file(path, threads=None):
    """Send stderr and the package's log lines to the rule's log file."""
    sys.stderr = open(path, "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if threads:
        torch.set_num_threads(threads)


def download_mnist_file(filename, dest, mirror, retries, timeout):
    download.fetch(filename, dest, mnist.FILES[filename], "mnist", mnist.URLS,
                   mirror=mirror, retries=retries, timeout=timeout)


def preprocess_mnist(raw_paths, pool, sizes, seed, splits_path, info_path):
    files = {p.split("/")[-1]: p for p in map(str, raw_paths)}
    arrays, info = mnist.make_splits(files, pool, sizes, seed)
    log.info("MNIST splits: %s; %s", info["description"], info["counts"])
    save_npz(splits_path, **arrays)
    save_json(info_path, info)


def pixel_range(data_dir):
    """The value range uint8 pixels stand for: [0, 1] (MNIST) unless the dataset says otherwise."""
    return tuple(load_json(Path(data_dir) / "splits.json").get("pixel_range", (0.0, 1.0)))


def load_split(data_dir, name, limit=None, raw=False):
    """A split's examples as flat float32 vectors; uint8 images are scaled to the dataset's pixel
    range, or returned as uint8 when `raw` (the training loop scales them batch by batch).

    A dataset folder holds either splits.npz (MNIST, audio) or one memory-mapped
    <split>.npy of (N, H, W, 3) images per split (CELEB-A).
    """
    data_dir = Path(data_dir)
    if (data_dir / "splits.npz").exists():
        with np.load(data_dir / "splits.npz") as arrays:  # reads this split's array only
            x = arrays[f"x_{name}"][:limit]
    else:
        x = dcgan.from_image(celeba.load_split_images(data_dir / f"{name}.npy")[:limit])
    if x.dtype != np.uint8:
        return x.astype(np.float32)
    if raw:
        return x
    low, high = pixel_range(data_dir)
    return x.astype(np.float32) * np.float32((high - low) / 255.0) + np.float32(low)


def train_model(data_dir, algorithm, latent_dim, settings, seed, device, model_path,
                loss_csv, loss_plots, checkpoint_path):
    x = load_split(data_dir, "train", raw=True)
    seed_everything(seed)
    model = build_model(algorithm, latent_dim, x.shape[1], settings["model"])
    history = train(model, x, {**settings["train"], "seed": seed}, checkpoint_path, pick_device(device),
                    pixel_range=pixel_range(data_dir),
                    model_settings={"algorithm": algorithm, "K": latent_dim, **settings["model"]})
    buf = io.StringIO()
    columns = list(dict.fromkeys(key for row in history for key in row))  # an epoch may lack a loss (WGAN warm-up)
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    save_text(loss_csv, buf.getvalue())
    plots.loss_curve(history, loss_plots, title=f"{algorithm.upper()} K={latent_dim} seed {seed}")
    save_model(model_path, model, algorithm, latent_dim, x.shape[1], settings["model"])
    Path(checkpoint_path).unlink(missing_ok=True)  # the final model supersedes it


def encode(model, x, batch=4096):
    with torch.no_grad():
        return np.concatenate([model.encode(torch.as_tensor(x[i : i + batch])).double().numpy()
                               for i in range(0, len(x), batch)])


def fit_base(data_dir, model_path, base_name, base_settings, seed, base_path):
    model = load_model(model_path)
    if hasattr(model, "encode"):
        codes = encode(model, load_split(data_dir, "train"))
    else:  # a generator alone: only a fixed base (N(0, I)) can be "fitted", on no codes
        codes = np.zeros((0, model.latent_dim))
    npz = Path(data_dir) / "splits.npz"
    lengths = load_npz(npz).get("lengths_train") if npz.exists() else None  # sequences, for sequential bases
    log.info("fitting base %r on %d codes of dimension %d", base_name, len(codes), codes.shape[1])
    base = build_base(base_name, base_settings, seed).fit(codes, lengths)
    save_base(base_path, base_name, base)


def generate(model_path, base_path, n_samples, n_grid, samples_path, grid_paths):
    model, base = load_model(model_path), load_base(base_path)
    codes, components = base.sample(n_samples)
    with torch.no_grad():
        x = model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()
    arrays = {"samples": x.astype(np.float32), "codes": codes}
    if components is not None:
        arrays["components"] = components
    save_npz(samples_path, **arrays)
    plots.image_grid(display_images(x[:n_grid]), grid_paths, title="random samples")


def kde_scores(data_dir, samples_path, settings, out_path):
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
        "split": load_json(Path(data_dir) / "splits.json"),
        "paper": {**p, "draws": draws.tolist(), "mean": float(draws.mean()),
                  "std": float(draws.std(ddof=1)) if len(draws) > 1 else 0.0, "n_test": len(test)},
        "standard": standard,
    }
    log.info("KDE paper convention %.2f ± %.2f over %d draws; standard %.2f ± %.2f (σ = %.3g) [%.1f s]",
             result["paper"]["mean"], result["paper"]["std"], len(draws), standard["mean"],
             standard["sem"], standard["sigma"], time.perf_counter() - t0)
    save_json(out_path, result)


def exact_likelihood(data_dir, model_path, base_path, n_test, arrays_path, summary_path):
    """Eq. 6 on test images: exact log-likelihood = base log-density of f⁻¹(x) + log V(x), with
    and without the output sigmoid's Jacobian term (which the authors' code drops)."""
    model, base = load_model(model_path).double(), load_base(base_path)
    x = torch.as_tensor(load_split(data_dir, "test", n_test), dtype=torch.float64)
    with torch.no_grad():
        codes, log_volume = model.log_volume(x)
        _, log_volume_no_sigmoid = model.log_volume(x, output_sigmoid=False)
    base_ll = base.score_samples(codes.numpy())
    exact, exact_no_sigmoid = base_ll + log_volume.numpy(), base_ll + log_volume_no_sigmoid.numpy()
    save_npz(arrays_path, exact=exact, exact_without_sigmoid=exact_no_sigmoid, base=base_ll)
    summary = {"n_test": len(x), "base_mean": float(base_ll.mean()),
               "output_sigmoid_term_mean": float((exact - exact_no_sigmoid).mean())}
    for suffix, values in (("", exact), ("_without_sigmoid", exact_no_sigmoid)):
        summary.update({f"pearson_r{suffix}": float(stats.pearsonr(values, base_ll)[0]),
                        f"spearman_rho{suffix}": float(stats.spearmanr(values, base_ll)[0]),
                        f"exact_mean{suffix}": float(values.mean())})
    log.info("exact vs base log-likelihood: Pearson r = %.3f with the output sigmoid's term, %.3f without "
             "(the term averages %.1f nats)", summary["pearson_r"], summary["pearson_r_without_sigmoid"],
             summary["output_sigmoid_term_mean"])
    save_json(summary_path, summary)


def make_tables(dataset, runs, by_k_paths, table1_paths, base_notes=None, families=None):
    """runs: dicts of algorithm, K, seed, kde (loaded kde.json), likelihood (likelihood.json or None).
    base_notes: {algorithm: how its base was fitted}, named in the captions. families: {algorithm:
    family} (iml.models.family_of the config's algorithms), for variants such as iml_allcodes."""
    summary, settings = tables.summarise_by_k(runs), tables.kde_settings(runs)
    best = tables.best_over_k(summary, dataset, tables.comparable_with_paper(settings), families)
    by_k_caption, table1_caption = tables.captions(dataset, runs, summary, best, base_notes)
    tables.write_table(summary, by_k_caption, *by_k_paths, headers=tables.by_k_headers(summary, settings))
    tables.write_table(best, table1_caption, *table1_paths, headers=tables.table1_headers(best, settings))
    log.info("ranking, paper convention (K on test): %s; standard convention (K on validation): %s",
             tables.ranking(best, "kde_paper"), tables.ranking(best, "kde_standard"))


def run_key(run):
    return run["algorithm"], run["K"], run["seed"]


def load_runs(run_keys, kde_paths, likelihood_paths):
    """Per-run results: each run's kde.json, and its likelihood.json where `likelihood_paths`
    (run_key -> likelihood.json) has one."""
    runs = []
    for key, path in zip(run_keys, kde_paths):
        lik = likelihood_paths.get(run_key(key))
        runs.append({**key, "kde": load_json(path), "likelihood": load_json(lik) if lik else None})
    return runs


def make_figures(dataset, runs, likelihood_arrays, kde_vs_k_paths, scatter_paths):
    summary = tables.summarise_by_k(runs)
    d = tables.describe(tables.kde_settings(runs), {r["seed"] for r in runs})
    plots.kde_vs_k(summary, kde_vs_k_paths, d, split_note=f"{dataset.upper()}: {d['data']}")
    plots.likelihood_scatter([{**key, **load_npz(path)} for key, path in likelihood_arrays], scatter_paths)


def figure_toy2d(settings, figure_paths, summary_path):
    """Fig. 1 (E1) and each model's log-likelihoods."""
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
    """Fig. 2 (E2): IML with K = 2 on two digit classes and a GMM base."""
    data = load_npz(Path(data_dir) / "splits.npz")
    keep = np.isin(data["y_train"], settings["digits"])
    x, labels = mnist.to_float(data["x_train"][keep]), data["y_train"][keep]
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
    g = torch.as_tensor(samples)
    g_sq = (g * g).sum(1)
    index = [torch.argmin(g_sq - 2 * torch.as_tensor(test[i : i + batch]) @ g.T, dim=1)
             for i in range(0, len(test), batch)]
    return samples[torch.cat(index).numpy()]


def figure_nearest(data_dir, sample_paths, algorithms, n_images, seed, nearest_paths,
                   component_paths, iml_samples_path, n_components_shown):
    """Fig. 4 (E6): nearest generated sample of each algorithm to random test images, and IML
    samples grouped by the GMM component they came from."""
    test = load_split(data_dir, "test")
    chosen = test[np.random.default_rng(seed).choice(len(test), n_images, replace=False)]
    rows = [chosen] + [nearest_samples(chosen, load_npz(p)["samples"]) for p in sample_paths]
    plots.image_rows([display_images(r) for r in rows], ["test"] + [a.upper() for a in algorithms], nearest_paths)
    iml = load_npz(iml_samples_path)
    counts = np.bincount(iml["components"])
    top = np.argsort(counts)[::-1][:n_components_shown]
    groups = [display_images(iml["samples"][iml["components"] == k][:n_images]) for k in top]
    plots.image_rows(groups, [f"component {k}" for k in top], component_paths)


def preprocess_celeba(source, partition, settings, threads, seed, data_dir):
    """Face crops at 64x64 into memory-mapped uint8 splits, and splits.json for the later steps."""
    if not Path(source).exists():
        raise celeba.CelebAMissingError(celeba.missing_source_message(source, partition))
    info = celeba.preprocess(source, partition, data_dir, size=64, margin=settings["margin"], threads=threads,
                             seed=seed, split_sizes=settings["split_sizes"], on_no_face=settings["on_no_face"])
    save_json(Path(data_dir) / "splits.json", {
        "pool": "celeba", "pixel_range": [-1.0, 1.0], "counts": info["counts"],
        "description": (f"CELEB-A faces (Haar cascade, largest face, margin {settings['margin']}, 64x64 RGB "
                        f"in [-1, 1]), {info['split_method']}; {info['n_no_face']} without a detected face "
                        f"({info['on_no_face']}), {info['n_skipped']} unreadable files skipped"),
    })


def display_images(x):
    """Flat vectors to images in [0, 1] for plotting: 784 -> 28x28 grey, 12288 -> 64x64 RGB."""
    x = np.asarray(x)
    if x.shape[1] == dcgan.DATA_DIM:
        return (dcgan.to_image(x) + 1) / 2
    return x.reshape(len(x), 28, 28)
