"""Audit of real codes for what the bases cannot give a density to, and the DPGMM's score change.

Trains two small autoencoders the way the quick preset does and prints, for their codes:
- per code dimension, the smallest std relative to the codes' scale (what iml.bases.base.standardisation
  refuses below RELATIVE_STD_TOLERANCE), and the number of duplicated code rows;
- on the MNIST codes: the DPGMM (the config's bases.dpgmm settings) scored both ways, scikit-learn's
  variational score_samples (what the committed which-base rows used) and the mixture it samples
  from (what it scores now), mean per held-out code.

Codes: IML (invertible perceptron, hidden 600) at K = 20, 8 epochs, on the offline split's 7000
training images (the quick preset's epochs; the which-base rows were made with 50); the audio
autoencoder (the quick preset's channels 8, 16) at K = 80, 3 epochs, on FSDD digit 0 (every speaker
but theo). Data: the MNIST test file and FSDD recordings of a local copy (IML_SHARED_DATA).

Run:  python benchmarks/code_audit.py [--data DIR] [--epochs 8] [--threads 2]
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from iml.bases import build_base
from iml.bases.base import RELATIVE_STD_TOLERANCE
from iml.data import fsdd, mnist
from iml.models import build_model
from iml.steps.train import encode
from iml.training import seed_everything, train

DPGMM = {"max_components": 50, "weight_concentration_prior": None, "max_iter": 500, "n_init": 1,
         "reg_covar": 1.0e-6, "weight_threshold": 1.0e-3, "max_codes": 10000}


def audit(name, codes):
    """Smallest relative std of any dimension and the duplicated rows, printed."""
    mean, std = codes.mean(0), codes.std(0)
    relative = std / np.maximum(np.abs(mean), std.max())
    duplicated = len(codes) - len(np.unique(codes, axis=0))
    print(f"{name}: {codes.shape[0]} codes x {codes.shape[1]} dims; smallest relative std {relative.min():.3g} "
          f"(dimension {int(relative.argmin())}; refused below {RELATIVE_STD_TOLERANCE:g}); "
          f"{int((relative <= RELATIVE_STD_TOLERANCE).sum())} near-constant dimensions; {duplicated} duplicated rows")


def mnist_codes(data, epochs):
    files = {n: data / "mnist" / n for n in mnist.POOL_FILES["test_only"]}
    arrays, _ = mnist.make_splits(files, "test_only", {"train": 7000, "validation": 1000, "test": 2000}, 0)
    x_train, x_test = mnist.to_float(arrays["x_train"]).reshape(-1, 784), mnist.to_float(arrays["x_test"]).reshape(-1, 784)
    seed_everything(0)
    model = build_model("iml", 20, 784, {"hidden": 600})
    started = time.perf_counter()
    train(model, x_train, {"epochs": epochs, "batch_size": 100, "lr": 1e-3, "seed": 0},
          Path(os.environ.get("TMPDIR", "/tmp")) / "code_audit_iml.ckpt", torch.device("cpu"))
    print(f"IML K = 20: {epochs} epochs in {time.perf_counter() - started:.0f} s")
    return encode(model, x_train), encode(model, x_test)


def audio_codes(data, epochs):
    entries = fsdd.recordings(data / "fsdd" / "recordings", [p.name for p in (data / "fsdd" / "recordings").glob("0_*.wav")])
    arrays, _ = fsdd.make_splits(entries, [0], None, ["theo"], seed=0)
    seed_everything(0)
    model = build_model("iml_audio", 80, 800, {"channels": [8, 16]})
    started = time.perf_counter()
    train(model, arrays["x_train"], {"epochs": epochs, "batch_size": 100, "lr": 1e-3, "seed": 0},
          Path(os.environ.get("TMPDIR", "/tmp")) / "code_audit_audio.ckpt", torch.device("cpu"))
    print(f"audio autoencoder K = 80: {epochs} epochs in {time.perf_counter() - started:.0f} s")
    return encode(model, arrays["x_train"]), encode(model, arrays["x_test"])


def dpgmm_scores(train_codes, test_codes):
    base = build_base("dpgmm", DPGMM, random_state=0).fit(train_codes)
    old = base.mixture.score_samples(test_codes)  # scikit-learn's variational score
    new = base.score_samples(test_codes)  # the mixture the base samples from
    print(f"DPGMM on held-out codes ({base.n_active_components_} of {base.n_components_} components kept): "
          f"variational score {old.mean():.4f}, the sampled mixture's log-density {new.mean():.4f}, "
          f"change {new.mean() - old.mean():+.4f} nats per code "
          f"(min {(new - old).min():+.4f}, max {(new - old).max():+.4f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("IML_SHARED_DATA"),
                        help="the data copy (mnist/, fsdd/); default: $IML_SHARED_DATA")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--audio-epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.data is None:
        parser.error("give --data or set IML_SHARED_DATA")
    torch.set_num_threads(args.threads)
    train_codes, test_codes = mnist_codes(args.data, args.epochs)
    audit("MNIST IML K = 20, training codes", train_codes)
    dpgmm_scores(train_codes, test_codes)
    audio_train, _ = audio_codes(args.data, args.audio_epochs)
    audit("FSDD digit 0 audio autoencoder K = 80, training codes", audio_train)


if __name__ == "__main__":
    main()
