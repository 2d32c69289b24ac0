"""Figures: each saved as the file named (PNG or PDF by suffix), atomically."""

import textwrap

import numpy as np

from iml.io import save_figure


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported when a figure is drawn (a second
    of start-up that steps drawing nothing should not pay)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, paths):
    plt = _pyplot()
    for path in paths:
        save_figure(fig, path)
    plt.close(fig)


def loss_curve(history, paths, title="training loss"):
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    names = [key for key in dict.fromkeys(k for row in history for k in row) if key not in ("epoch", "seconds")]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in names:
        ax.plot(epochs, [row.get(name, np.nan) for row in history], marker="o", ms=3, label=name)
    positive = all(row.get(name, 1) > 0 for row in history for name in names)
    ax.set(xlabel="epoch", ylabel="loss", yscale="log" if positive else "linear", title=title)
    if len(names) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, paths)


def _imshow(ax, image):
    image = np.clip(image, 0, 1)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")


def image_grid(images, paths, ncols=10, title=None):
    """Images (n, H, W) grey or (n, H, W, 3) RGB in [0, 1], clipped for display, in rows of ncols."""
    plt = _pyplot()
    images = np.clip(np.asarray(images), 0, 1)
    shape = images.shape[1:3]
    nrows = int(np.ceil(len(images) / ncols))
    canvas = np.ones((nrows * (shape[0] + 2), ncols * (shape[1] + 2), *images.shape[3:]))
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        canvas[r * (shape[0] + 2) + 1 : r * (shape[0] + 2) + 1 + shape[0],
               c * (shape[1] + 2) + 1 : c * (shape[1] + 2) + 1 + shape[1]] = img
    fig, ax = plt.subplots(figsize=(ncols * 0.6, nrows * 0.6 + (0.4 if title else 0)))
    _imshow(ax, canvas)
    ax.axis("off")
    if title:
        ax.set_title(title)
    _save(fig, paths)


def kde_vs_k(summary, paths, settings, split_note=""):
    """Fig. 3 left: KDE score against K, one curve per algorithm, a band of ± the spread (std over
    seeds; with one seed, the run's own spread); one panel per convention. settings: the
    conventions in words (tables.describe)."""
    plt = _pyplot()
    panels = [("paper", f"paper convention: {settings['paper']}"),
              ("standard", f"standard convention: {settings['standard']}")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (conv, title) in zip(axes, panels):
        for algorithm in sorted({row["algorithm"] for row in summary}):
            rows = sorted((r for r in summary if r["algorithm"] == algorithm), key=lambda r: r["K"])
            k = np.array([r["K"] for r in rows])
            mean = np.array([r[f"kde_{conv}_mean"] for r in rows])
            spread = np.array([r[f"kde_{conv}_spread"] for r in rows])
            ax.plot(k, mean, marker="o", label=algorithm.upper())
            ax.fill_between(k, mean - spread, mean + spread, alpha=0.25)
        bands = " or ".join(sorted({r[f"kde_{conv}_spread_is"] for r in summary}))
        ax.set(xlabel="latent dimension K", ylabel="KDE log-likelihood (nats)")
        ax.set_title(textwrap.fill(f"{title}; mean over {settings['seeds']}, band: ± {bands}", 80), fontsize=7)
        ax.grid(alpha=0.3)
        ax.legend()
    if split_note:
        fig.suptitle(split_note, fontsize=7, y=0.01, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _save(fig, paths)


def likelihood_scatter(runs, paths):
    """Fig. 3 right: exact implicit-model log-likelihood (Eq. 6) against the base log-likelihood
    on test images, with the output sigmoid's Jacobian term (left) and without it (right, the
    authors' code); one colour per run, each correlation in the legend."""
    plt = _pyplot()
    from scipy import stats

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (key, title) in zip(axes, [("exact", "with the output sigmoid's term"),
                                       ("exact_without_sigmoid", "without it (the authors' code)")]):
        for run in runs:
            r = stats.pearsonr(run[key], run["base"])[0]
            label = f"{run['algorithm']} K={run['K']} seed {run['seed']}: r = {r:.3f}"
            ax.scatter(run["base"], run[key], s=4, alpha=0.5, label=label)
        ax.set(xlabel="base log-likelihood log p(f⁻¹(x))", ylabel="exact log-likelihood (Eq. 6)",
               title=f"IML on test images: exact {title}")
        ax.title.set_fontsize(8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    _save(fig, paths)


def toy2d_panels(x_train, panels, paths):
    """Fig. 1: per model, generated points over the data (left) and base samples over the
    data mapped to the base space (right)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(8, 3.6 * len(panels)))
    for row, panel in zip(axes, panels):
        row[0].scatter(*x_train.T, s=3, alpha=0.3, color="tab:blue", label="data")
        row[0].scatter(*panel["generated"].T, s=3, alpha=0.3, color="tab:red", label="generated")
        row[0].set_title(f"{panel['name']}\ntest log-lik. {panel['test_log_likelihood']:.2f}; "
                         f"samples under true mixture {panel['samples_true_log_likelihood']:.2f}", fontsize=8)
        row[1].scatter(*panel["mapped_data"].T, s=3, alpha=0.3, color="tab:blue", label="W⁻¹(x − b)")
        row[1].scatter(*panel["base_samples"].T, s=3, alpha=0.3, color="tab:red", label="base samples")
        row[1].set_title("base space", fontsize=8)
        for ax in row:
            ax.set_aspect("equal", "datalim")
            ax.legend(fontsize=7, markerscale=3, loc="upper left")
    fig.tight_layout()
    _save(fig, paths)


def _ellipse(ax, mean, cov, color):
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    for n_std in (1, 2):
        ax.add_patch(Ellipse(mean, *(2 * n_std * np.sqrt(values[::-1])), angle=angle, fill=False,
                             color=color, lw=2, alpha=0.9 / n_std))


def two_dimensional_codes(images, reconstructions, codes, labels, mixture, sample_codes, sample_images, paths):
    """Fig. 2: training images and reconstructions on top; below, the 2-D codes, the GMM's
    covariance ellipses and decoded images drawn at sampled codes."""
    plt = _pyplot()
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    fig = plt.figure(figsize=(9, 10))
    top = fig.add_gridspec(2, len(images), top=0.97, bottom=0.8, hspace=0.05, wspace=0.05)
    for i, (img, rec) in enumerate(zip(images, reconstructions)):
        for r, picture in enumerate((img, rec)):
            ax = fig.add_subplot(top[r, i])
            ax.imshow(np.clip(picture.reshape(28, 28), 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
    ax = fig.add_axes([0.08, 0.05, 0.88, 0.7])
    for digit in np.unique(labels):
        ax.scatter(*codes[labels == digit].T, s=2, alpha=0.3, label=f"digit {digit}")
    for k, (mean, cov) in enumerate(zip(mixture.means_, mixture.covariances_)):
        _ellipse(ax, mean, cov, f"C{k + 2}")
    for code, img in zip(sample_codes, sample_images):
        box = OffsetImage(np.clip(img.reshape(28, 28), 0, 1), cmap="gray", zoom=0.9)
        ax.add_artist(AnnotationBbox(box, code, frameon=True, pad=0.1))
    ax.set(xlabel="h₁", ylabel="h₂", title="codes of training images, GMM components (1σ, 2σ), decoded samples")
    ax.legend(markerscale=4)
    _save(fig, paths)


def image_rows(rows, labels, paths):
    """A grid with one labelled row per entry of `rows` (each (n, H, W[, 3]) images in [0, 1])."""
    plt = _pyplot()
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * 0.75 + 1, len(rows) * 0.8), squeeze=False)
    for r, (images, label) in enumerate(zip(rows, labels)):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                _imshow(ax, images[c])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    _save(fig, paths)


def spectrograms(waves, titles, dataset, paths, rate=8000):
    """Spectrograms side by side, axes in seconds and Hz (Figs. 6-8)."""
    plt = _pyplot()
    from scipy.signal import spectrogram

    fig, axes = plt.subplots(1, len(waves), figsize=(6 * len(waves), 3.5), squeeze=False)
    for ax, wave, title in zip(axes[0], waves, titles):
        f, t, power = spectrogram(np.asarray(wave, dtype=np.float64), fs=rate, window="hann", nperseg=256,
                                  noverlap=192)
        ax.pcolormesh(t, f, 10 * np.log10(power + 1e-12), shading="auto", cmap="magma",
                      rasterized=True)  # a vector mesh of this size makes slow, huge PDFs
        ax.set(xlabel="time (s)", ylabel="frequency (Hz)", title=f"{dataset}: {title}")
    fig.tight_layout()
    _save(fig, paths)
