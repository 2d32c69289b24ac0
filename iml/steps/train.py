"""Training and bases: a model trained on a dataset's training split, a base fitted on its codes."""

import csv
import io
import logging
import time
from pathlib import Path

import numpy as np
import torch

from iml import plots
from iml.bases import build_base, save_base, spec
from iml.data import audio, has_split, load_split, pixel_range, sequence_lengths
from iml.device import pick_device
from iml.io import save_json, save_text
from iml.models import build_model, load_model, save_model
from iml.training import seed_everything, train

log = logging.getLogger("iml")


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


def fit_base(data_dir, model_path, base_name, base_settings, seed, base_path, summary_path, run_settings=None,
             device="cpu", validation_fraction=None):
    """The base fitted on the training codes; a base that chooses something (the GMM's number of
    components, a bandwidth, the flow's epoch) chooses on the validation split's codes, or, for
    audio (no validation split), on a seeded `validation_fraction` of the training recordings held
    out of its fit (whole recordings, iml.data.audio.hold_out_recordings). The summary records
    what it chose, the fit's seconds and its provenance (`run_settings`: what produced the run,
    iml.provenance)."""
    from iml.provenance import provenance

    model = load_model(model_path)
    base = build_base(base_name, base_settings, seed)
    if hasattr(model, "encode"):
        codes = encode(model, load_split(data_dir, "train"))
    else:  # a generator alone: only a fixed base (N(0, I)) can be "fitted", on no codes
        codes = np.zeros((0, model.latent_dim))
    lengths = sequence_lengths(data_dir, "train")  # the recordings: sequential bases fit on them
    extra, held_note = {}, None
    if spec(base_name).validation:
        if has_split(data_dir, "validation"):
            extra["validation"] = encode(model, load_split(data_dir, "validation"))
        elif lengths is not None and validation_fraction:  # audio: whole training recordings held out
            held, held_note = audio.hold_out_recordings(lengths, validation_fraction, seed)
            codes, lengths, extra["validation"] = codes[~held], audio.kept_lengths(lengths, held), codes[held]
    log.info("fitting base %r on %d codes of dimension %d%s", base_name, len(codes), codes.shape[1],
             f", choosing on {len(extra['validation'])} validation codes" if extra else "")
    started = time.perf_counter()
    base.fit(codes, lengths, **extra)
    seconds = time.perf_counter() - started
    save_base(base_path, base_name, base)
    save_json(summary_path, {"base": base_name, **base.fitted_summary(), "fit_seconds": seconds,
                             "n_codes": len(codes), "n_validation_codes": len(extra.get("validation", [])),
                             **({"validation_held_out": held_note} if held_note else {}),
                             "provenance": provenance(run_settings, pick_device(device))})
