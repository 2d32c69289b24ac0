"""Figures: each saved as the file named (PNG or PDF by suffix), atomically."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from iml.io import save_figure  # noqa: E402


def _save(fig, paths):
    for path in paths:
        save_figure(fig, path)
    plt.close(fig)


def loss_curve(history, paths, title="training loss"):
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [row["loss"] for row in history], marker="o", ms=3)
    ax.set(xlabel="epoch", ylabel="loss", yscale="log", title=title)
    ax.grid(alpha=0.3)
    _save(fig, paths)


def image_grid(images, paths, ncols=10, shape=(28, 28), title=None):
    """Images (n, H*W) in [0, 1], clipped for display, in rows of ncols."""
    images = np.clip(np.asarray(images).reshape(-1, *shape), 0, 1)
    nrows = int(np.ceil(len(images) / ncols))
    canvas = np.ones((nrows * (shape[0] + 2), ncols * (shape[1] + 2)))
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        canvas[r * (shape[0] + 2) + 1 : r * (shape[0] + 2) + 1 + shape[0],
               c * (shape[1] + 2) + 1 : c * (shape[1] + 2) + 1 + shape[1]] = img
    fig, ax = plt.subplots(figsize=(ncols * 0.6, nrows * 0.6 + (0.4 if title else 0)))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    _save(fig, paths)


def kde_vs_k(summary, paths, split_note=""):
    """Fig. 3 left: KDE score against K, one curve per algorithm, the spread over seeds as a band;
    one panel per convention."""
    panels = [("paper", "paper convention (σ = 0.2, log-sum of 1000)"),
              ("standard", "standard convention (log-mean, σ on validation)")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (conv, title) in zip(axes, panels):
        for algorithm in sorted({row["algorithm"] for row in summary}):
            rows = sorted((r for r in summary if r["algorithm"] == algorithm), key=lambda r: r["K"])
            k = np.array([r["K"] for r in rows])
            mean = np.array([r[f"kde_{conv}_mean"] for r in rows])
            spread = np.array([r[f"kde_{conv}_spread"] for r in rows])
            ax.plot(k, mean, marker="o", label=algorithm.upper())
            ax.fill_between(k, mean - spread, mean + spread, alpha=0.25)
        ax.set(xlabel="latent dimension K", ylabel="KDE log-likelihood (nats)", title=title)
        ax.grid(alpha=0.3)
        ax.legend()
    if split_note:
        fig.suptitle(split_note, fontsize=8, y=-0.02)
    fig.tight_layout()
    _save(fig, paths)


def likelihood_scatter(runs, paths):
    """Fig. 3 right: exact implicit-model log-likelihood (Eq. 6) against the base log-likelihood
    on test images, one colour per K, with each correlation in the legend."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for run in runs:
        ax.scatter(run["base"], run["exact"], s=4, alpha=0.5,
                   label=f"K={run['K']} seed {run['seed']}: r = {run['pearson_r']:.3f}")
    ax.set(xlabel="base log-likelihood log p(f⁻¹(x))", ylabel="exact log-likelihood (Eq. 6)",
           title="IML on MNIST test images")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, markerscale=3)
    _save(fig, paths)
