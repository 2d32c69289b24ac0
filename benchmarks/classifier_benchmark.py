"""Benchmark of the sample-quality classifier and metrics at full size (prints figures).

Trains `iml.metrics.classifier` as the workflow's `train_classifier` would under a preset (default
presets/offline.yaml: 7000 training and 2000 test images carved from the 10000 test images; `quick`:
4000 and 1000; `paper`: config.yaml alone, the official 60000/10000 files): its MNIST split and its
`evaluate.classifier` settings over config.yaml's, each overridable below. Prints the training time
and test accuracy against the preset's bar, then the Fréchet distance, precision and recall (k = 3)
of the two references against the test images: training images (the floor) and the mean training
image, with their times.

Run:  python benchmarks/classifier_benchmark.py [--preset quick] [--epochs E] [--dropout P] ...
          [--seed S] [--threads T] [--no-metrics] [--mnist DIR]
Exits 1 when the accuracy misses the bar.
"""

import argparse
import json
import pathlib
import sys
import time

import torch
import yaml

from iml.data import mnist
from iml.metrics import classifier
from iml.metrics.sample_quality import reference_samples, sample_quality

ROOT = pathlib.Path(__file__).resolve().parents[1]
# command-line overrides of evaluate.classifier: flag -> (setting, type)
OVERRIDES = {"seed": int, "epochs": int, "batch_size": int, "lr": float, "shift": int, "dropout": float,
             "features": int, "accuracy_bar": float}


def preset_settings(preset):
    """(data.mnist, evaluate.classifier) of config.yaml with the preset's over them."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    over = {} if preset == "paper" else yaml.safe_load((ROOT / "presets" / f"{preset}.yaml").read_text())
    data = {**config["data"]["mnist"], **over.get("data", {}).get("mnist", {})}
    settings = {**config["evaluate"]["classifier"], **over.get("evaluate", {}).get("classifier", {})}
    return data, settings


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=pathlib.Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--preset", choices=["offline", "quick", "paper"], default="offline")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-metrics", action="store_true", help="only train and test the classifier")
    parser.add_argument("--channels", type=int, nargs=2, default=None)
    for name, kind in OVERRIDES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data, settings = preset_settings(args.preset)
    settings.update({k: getattr(args, k) for k in [*OVERRIDES, "channels"] if getattr(args, k) is not None})
    files = {name: args.mnist / name for name in mnist.POOL_FILES[data["pool"]]}
    arrays, info = mnist.make_splits(files, data["pool"], data["sizes"], seed=data["split_seed"])
    x_train, x_test = mnist.to_float(arrays["x_train"]), mnist.to_float(arrays["x_test"])
    print(f"{args.preset}: {info['description']}: {info['counts']}; {torch.get_num_threads()} threads")

    seed, bar = settings.pop("seed"), settings.pop("accuracy_bar")
    model, run = classifier.train_classifier(x_train, arrays["y_train"], seed=seed, settings=settings)
    acc = classifier.accuracy(model, x_test, arrays["y_test"])
    print(f"classifier: {json.dumps(run['settings'])}, seed {seed}, on {run['device']}: {run['seconds']:.1f} s "
          f"training ({run['cpu_seconds']:.1f} CPU s on {torch.get_num_threads()} threads), "
          f"test accuracy {acc:.2%} (bar {bar:.2%})")
    if not args.no_metrics:
        print_metrics(model, x_train, x_test, seed)
    return 0 if acc >= bar else 1


def print_metrics(model, x_train, x_test, seed):
    start = time.perf_counter()
    test_features = classifier.features(model, x_test)
    print(f"features of {len(x_test)} test images: {time.perf_counter() - start:.2f} s")
    n = min(len(x_test), len(x_train))
    for name, images in reference_samples(x_train, n, seed=seed).items():
        start = time.perf_counter()
        scores = sample_quality(test_features, classifier.features(model, images))
        print(f"{name:16s} FID {scores['fid']:9.3f}  precision {scores['precision']:.3f}  "
              f"recall {scores['recall']:.3f}  ({n} vs {len(x_test)}, {time.perf_counter() - start:.2f} s)")


if __name__ == "__main__":
    sys.exit(main())
