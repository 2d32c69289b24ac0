"""A small convolutional MNIST classifier whose penultimate layer is the feature space of the
sample-quality metrics (Fréchet distance, precision/recall): the MNIST stand-in for Inception.

Images are float rows of 784 pixels in [0, 1] (what `iml.data.mnist.to_float` and the samplers
give); uint8 rows are scaled. Training is seeded and runs on CUDA when present.
"""

import logging
import math
import pickle
import time

import numpy as np
import torch
from torch import nn

from iml.device import pick_device
from iml.io import atomic_path

log = logging.getLogger(__name__)

# The accuracy on the test split below which the features are not trusted
ACCURACY_BAR = 0.98
# as config.yaml evaluate.classifier (the workflow passes its own); measured in docs/benchmarks.md
DEFAULTS = {"channels": [32, 64], "features": 128, "dropout": 0.0, "epochs": 16, "batch_size": 32, "lr": 2e-3,
            "shift": 2}


class ClassifierTooWeak(RuntimeError):
    pass


class MNISTClassifier(nn.Module):
    """Two 3x3 conv + 2x2 max-pool stages, a `features`-unit penultimate layer, 10 logits.
    Dropout sits between the features and the logits: it regularises training without touching
    the features, which `body` gives (dropout is inactive in eval mode anyway)."""

    def __init__(self, channels=(32, 64), features=128, dropout=0.0):
        super().__init__()
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * 7 * 7, features), nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)  # no parameters: saved files do not depend on it
        self.head = nn.Linear(features, 10)

    def forward(self, x):
        return self.head(self.dropout(self.body(x)))


def as_images(x, name="images"):
    """(N, 784) or (N, 28, 28) pixels, uint8 or float in [0, 1], as a float32 (N, 1, 28, 28) tensor."""
    x = np.asarray(x)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != 784:
        raise ValueError(f"{name}: expected N x 784 MNIST pixels, got shape {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif not np.isfinite(x).all():
        raise ValueError(f"{name}: {int((~np.isfinite(x)).sum())} non-finite pixel values")
    return torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1, 28, 28)


def _shifted(images, shift, generator):
    """Each image translated by its own random (dy, dx), up to `shift` pixels each way, the border
    filled with blank pixels: augmentation for a few thousand training images (docs/benchmarks.md
    measures it against one shift per batch)."""
    if not shift:
        return images
    n, size = len(images), images.shape[-1]
    padded = nn.functional.pad(images[:, 0], (shift, shift, shift, shift))
    dy, dx = torch.randint(0, 2 * shift + 1, (2, n, 1), generator=generator).to(images.device)
    rows = (dy + torch.arange(size, device=images.device))[:, :, None]
    cols = (dx + torch.arange(size, device=images.device))[:, None, :]
    return padded[torch.arange(n, device=images.device)[:, None, None], rows, cols][:, None]


def train_classifier(x_train, y_train, seed, settings=None, device=None):
    """A classifier trained with Adam on (x_train, y_train), shuffled by `seed`. Returns the model
    (in eval mode, on `device`) and a dict of what was done (settings, seconds, device)."""
    settings = {**DEFAULTS, **(settings or {})}
    device = device or pick_device()
    x = as_images(x_train, "training images").to(device)
    y = torch.as_tensor(np.asarray(y_train), dtype=torch.long, device=device)
    if len(y) != len(x):
        raise ValueError(f"{len(x)} training images but {len(y)} labels")
    torch.manual_seed(seed)
    model = MNISTClassifier(settings["channels"], settings["features"], settings["dropout"]).to(device)
    return fit_classifier(model, x, y, settings, seed, _shifted, "classifier")


def fit_classifier(model, x, y, settings, seed, shift, name):
    """Train `model` on (x, y) with Adam over settings["epochs"], the rate cosine-decayed to zero (not
    a proven gain at 3 epochs, where a constant rate did better, see docs/benchmarks.md; kept for the
    longer runs), batches shuffled and augmented (`shift(batch, settings["shift"], generator)`) by
    `seed`, each batch moved to the model's device. Returns the model in eval mode and a dict of what
    was done; CPU seconds beside wall seconds: on a shared machine the wall time mostly measures the
    others."""
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, settings["epochs"] * math.ceil(len(x) / settings["batch_size"]))
    shuffle = torch.Generator().manual_seed(seed)
    start, start_cpu = time.perf_counter(), time.process_time()
    model.train()
    for epoch in range(settings["epochs"]):
        order, total = torch.randperm(len(x), generator=shuffle), 0.0
        for i in range(0, len(x), settings["batch_size"]):
            idx = order[i : i + settings["batch_size"]]
            batch = shift(x[idx], settings["shift"], shuffle).to(device)
            loss = nn.functional.cross_entropy(model(batch), y[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        log.info("%s epoch %d/%d: mean loss %.4f", name, epoch + 1, settings["epochs"], total / len(x))
    return model.eval(), {"settings": settings, "seed": seed, "seconds": time.perf_counter() - start,
                          "cpu_seconds": time.process_time() - start_cpu, "device": str(device), "n_train": len(x)}


def _batches(model, x, batch_size, fn):
    device = next(model.parameters()).device
    images = as_images(x)
    with torch.no_grad():
        return torch.cat([fn(images[i : i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)])


def features(model, x, batch_size=1000):
    """Penultimate-layer activations (N, features) of images x, float32 numpy."""
    return _batches(model.eval(), x, batch_size, model.body).numpy()


def accuracy(model, x, y, batch_size=1000):
    predicted = _batches(model.eval(), x, batch_size, lambda b: model(b).argmax(1))
    return float((predicted.numpy() == np.asarray(y)).mean())


def check_accuracy(model, x_test, y_test, bar=ACCURACY_BAR):
    """The test accuracy, or ClassifierTooWeak when it is below `bar`."""
    acc = accuracy(model, x_test, y_test)
    if acc < bar:
        raise ClassifierTooWeak(f"the feature classifier reaches {acc:.2%} accuracy on the {len(x_test)} test "
                                f"images, below the required {bar:.2%}: its features would not be trusted "
                                f"(train longer or on more images)")
    return acc


def save_classifier(path, model, settings):
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "settings": settings}, tmp)


def load_classifier(path, device="cpu"):
    try:  # weights_only: a planted file cannot run code while it is read
        saved = torch.load(path, map_location=device, weights_only=True)
        settings = saved["settings"]
        model = MNISTClassifier(settings["channels"], settings["features"])
        model.load_state_dict(saved["state_dict"])
    except (pickle.UnpicklingError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: not a classifier written by save_classifier ({err})") from err
    return model.to(device).eval()
