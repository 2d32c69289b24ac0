"""The training loop every algorithm shares: data on the device, seeded shuffling,
per-epoch checkpoints (model, optimiser, epoch, RNG state) and resume, progress lines."""

import hashlib
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from iml.device import pick_device
from iml.io import atomic_path

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    pass


def seed_everything(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def fingerprint(settings):
    """A stable hash of JSON-able settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def data_digest(data, rows=4096):
    """A hash of the training array's bytes, read in blocks (a memory-mapped set stays on disk)."""
    data = np.asarray(data)
    h = hashlib.sha256(f"{data.dtype.str} {data.shape}".encode())
    for start in range(0, len(data), rows):
        h.update(np.ascontiguousarray(data[start : start + rows]))
    return h.hexdigest()[:16]


FINGERPRINT_PARTS = {"model": "model settings", "train": "train settings or seed", "data": "training data"}


def run_fingerprint(model, model_settings, settings, data, pixel_range):
    """What shapes the trained parameters, part by part, so a checkpoint made otherwise is never
    resumed and the log can say which part changed. The model part holds every parameter's and
    buffer's name and shape, so a model of another size is told apart even without model_settings."""
    shapes = [[name, list(tensor.shape)] for name, tensor in model.state_dict().items()]
    return {"model": fingerprint([type(model).__name__, model_settings, shapes]), "train": fingerprint(settings),
            "data": fingerprint([data_digest(data), list(pixel_range)])}


def save_checkpoint(path, state):
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _set_aside(path, why):
    stale = path.with_name(path.name + ".stale")
    path.replace(stale)
    log.warning("checkpoint %s %s: set aside as %s; training starts from scratch", path, why, stale)


def _load_checkpoint(path, expected_fingerprint):
    """The checkpoint's state when it was made by this very run (see run_fingerprint); else None,
    with a stale or unreadable checkpoint renamed out of the way."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        found = state["fingerprint"]
    except Exception as err:  # written atomically, so outside damage, an old format or a planted file
        _set_aside(path, f"is unreadable ({type(err).__name__}: {err})")
        return None
    if found != expected_fingerprint:
        changed = [FINGERPRINT_PARTS[part] for part in expected_fingerprint
                   if not isinstance(found, dict) or found.get(part) != expected_fingerprint[part]]
        _set_aside(path, f"was made with other {' and '.join(changed)}")
        return None
    return state


def _rng_state():
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _device_data(data, device):
    """The whole training set on the device, once. uint8 images stay uint8 (4x smaller; a
    memory-mapped array stays mapped on the CPU) and are scaled batch by batch."""
    if getattr(data, "dtype", None) == np.uint8:
        return torch.as_tensor(np.asarray(data)).to(device)
    data = np.asarray(data, dtype=np.float32)
    if not np.isfinite(data).all():
        raise ValueError(f"training data holds {int((~np.isfinite(data)).sum())} NaN or inf values")
    return torch.as_tensor(data, device=device)


def _batch_scaler(data, pixel_range):
    if getattr(data, "dtype", None) != np.uint8:
        return lambda batch: batch
    low, high = pixel_range
    return lambda batch: batch.float() * ((high - low) / 255.0) + low


def train(model, data, settings, checkpoint_path, device=None, pixel_range=(0.0, 1.0), model_settings=None):
    """Train `model` over `data` (N x D array) with the model's own optimisers and step.

    uint8 data is mapped to `pixel_range` per batch, so no float copy of the set is made.

    settings: epochs, batch_size, lr, seed, optionally betas; model_settings: what the model was
    built with (algorithm, K, its settings). Resumes from `checkpoint_path` when it holds a
    checkpoint of the same model, settings and data; a checkpoint made otherwise is set aside.
    Returns the per-epoch history: dicts of epoch, seconds and the mean of each loss the model reports.
    """
    if len(data) == 0:
        raise ValueError("no training examples: the training split is empty")
    device = device or pick_device()
    epochs, batch_size = settings["epochs"], settings["batch_size"]
    model.to(device)
    optimizers = model.make_optimizers(settings)
    generator = torch.Generator().manual_seed(settings["seed"])
    history, start_epoch = [], 0
    key = run_fingerprint(model, model_settings, settings, data, pixel_range)
    state = _load_checkpoint(checkpoint_path, key)
    if state is not None:
        model.load_state_dict(state["model"])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        generator.set_state(state["generator"])
        _set_rng_state(state["rng"])
        history, start_epoch = state["history"], state["epoch"]
        log.info("resuming from %s after epoch %d of %d", checkpoint_path, start_epoch, epochs)

    x = _device_data(data, device)
    to_float = _batch_scaler(data, pixel_range)
    n = len(x)
    log.info("training %s on %d examples of dimension %d on %s: %d epochs, batch %d",
             type(model).__name__, n, x.shape[1], device, epochs, batch_size)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        totals, counts = {}, {}
        try:
            for i in range(0, n, batch_size):
                batch = to_float(x[order[i : i + batch_size]])
                for name, loss in model.train_step(batch, optimizers).items():
                    totals[name] = totals.get(name, 0) + loss * len(batch)
                    counts[name] = counts.get(name, 0) + len(batch)
            if hasattr(model, "end_epoch"):  # a model whose step schedule follows epochs (WGAN)
                model.end_epoch(optimizers, batch_size, device)
        except torch.linalg.LinAlgError as err:  # NaN weights break the pseudo-inverse first
            raise TrainingDiverged(f"training diverged in epoch {epoch + 1} ({err}); lower the learning rate") from err
        losses = {name: float(total) / counts[name] for name, total in totals.items()}  # one sync per epoch
        if not all(map(math.isfinite, losses.values())):
            raise TrainingDiverged(f"loss became {losses} in epoch {epoch + 1}; lower the learning rate")
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, **losses, "seconds": seconds})
        shown = "  ".join(f"{name} {value:.6f}" for name, value in losses.items())
        log.info("epoch %d/%d  %s  %.1f s  ETA %.0f s", epoch + 1, epochs, shown, seconds,
                 seconds * (epochs - epoch - 1))
        save_checkpoint(checkpoint_path, {
            "model": model.state_dict(), "epoch": epoch + 1, "history": history, "fingerprint": key,
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "generator": generator.get_state(), "rng": _rng_state(),
        })
    model.eval()
    return history
