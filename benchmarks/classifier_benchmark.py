"""Benchmark of the sample-quality classifier and metrics at full size (prints figures).

Trains `iml.metrics.classifier` on the MNIST training split (default: the offline split, 7000
training and 2000 test images carved from the 10000 test images, seed 0; --pool full uses the
official 60000/10000 files when present), prints its training time and test accuracy against the
98% bar, then the Fréchet distance, precision and recall (k = 3) of the two references against
the test images: training images (the floor) and the mean training image, with their times.

Run:  python benchmarks/classifier_benchmark.py [--epochs E] [--threads T] [--pool full] [--mnist DIR]
Exits 1 when the accuracy misses the bar.
"""

import argparse
import pathlib
import sys
import time

import torch

from iml.data import mnist
from iml.metrics import classifier
from iml.metrics.sample_quality import reference_samples, sample_quality

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZES = {"test_only": {"train": 7000, "validation": 1000, "test": 2000}, "full": {"validation": 5000}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=pathlib.Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--pool", choices=sorted(SIZES), default="test_only")
    parser.add_argument("--epochs", type=int, default=classifier.DEFAULTS["epochs"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = {name: args.mnist / name for name in mnist.POOL_FILES[args.pool]}
    arrays, info = mnist.make_splits(files, args.pool, SIZES[args.pool], seed=args.seed)
    x_train, x_test = mnist.to_float(arrays["x_train"]), mnist.to_float(arrays["x_test"])
    print(f"{info['description']}: {info['counts']}; {torch.get_num_threads()} threads")

    model, run = classifier.train_classifier(x_train, arrays["y_train"], seed=args.seed,
                                             settings={"epochs": args.epochs})
    acc = classifier.accuracy(model, x_test, arrays["y_test"])
    print(f"classifier: {run['settings']} on {run['device']}: {run['seconds']:.1f} s training "
          f"({run['cpu_seconds']:.1f} CPU s on {torch.get_num_threads()} threads), "
          f"test accuracy {acc:.2%} (bar {classifier.ACCURACY_BAR:.0%})")

    start = time.perf_counter()
    test_features = classifier.features(model, x_test)
    print(f"features of {len(x_test)} test images: {time.perf_counter() - start:.2f} s")
    n = min(len(x_test), len(x_train))
    for name, images in reference_samples(x_train, n, seed=args.seed).items():
        start = time.perf_counter()
        scores = sample_quality(test_features, classifier.features(model, images))
        print(f"{name:16s} FID {scores['fid']:9.3f}  precision {scores['precision']:.3f}  "
              f"recall {scores['recall']:.3f}  ({n} vs {len(x_test)}, {time.perf_counter() - start:.2f} s)")
    return 0 if acc >= classifier.ACCURACY_BAR else 1


if __name__ == "__main__":
    sys.exit(main())
