"""Benchmark of every base distribution at the paper's MNIST size (prints figures).

Codes: a seeded synthetic 20-component Gaussian mixture in K = 100 dimensions (random weights,
means and full covariances), split like MNIST: 55000 training, 5000 validation, 10000 test
codes. (The offline data copy has only the 10000 MNIST test images, too few for 55000 real
codes.) Per base, with the settings below: fit time (on the training codes, validation codes
given), score time (score_samples of the 10000 test codes), sample time (10000 codes), the mean
test log-likelihood (and the true density's, for reference), and what the base chose.

Run:  python benchmarks/bases_benchmark.py [--threads T] [--bases gaussian flow ...] [--n-train 55000]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from rates import matmul_gflops
from scipy import stats
from scipy.special import logsumexp

from iml.bases import build_base

# name in the table -> (base, settings); the workflow's gmm (n_components 30 on 3000 codes) first
CASES = {
    "standard_normal": ("standard_normal", {}),
    "gaussian": ("gaussian", {}),
    "gmm (30, 3000 codes)": ("gmm", {"n_components": 30, "max_iter": 500, "max_codes": 3000}),
    "gmm (30, all codes)": ("gmm", {"n_components": 30, "max_iter": 500}),
    "gmm (auto, 10000 codes)": ("gmm", {"n_components": "auto", "max_iter": 500, "max_codes": 10000}),
    "dpgmm (<= 50, 10000 codes)": ("dpgmm", {"max_components": 50, "max_codes": 10000}),
    "kde": ("kde", {}),
    "flow": ("flow", {}),  # config.yaml's bases.flow, filled in below
}
with open(Path(__file__).resolve().parents[1] / "config.yaml") as f:
    CASES["flow"][1].update(
        {k: v for k, v in yaml.safe_load(f)["bases"]["flow"].items() if k != "device"})


def synthetic_mixture(dim, n_components=20, seed=0):
    """A seeded mixture of full-covariance Gaussians: (weights, means, covariances)."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = 3.0 * rng.standard_normal((n_components, dim))
    factors = 0.3 * rng.standard_normal((n_components, dim, dim)) / np.sqrt(dim)
    return weights, means, factors @ factors.transpose(0, 2, 1) + 0.01 * np.eye(dim)


def draw(mixture, n, seed=1):
    weights, means, covariances = mixture
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(weights), n, p=weights)
    chol = np.linalg.cholesky(covariances)
    return means[labels] + np.einsum("nij,nj->ni", chol[labels], rng.standard_normal((n, means.shape[1])))


def true_log_density(mixture, x):
    weights, means, covariances = mixture
    return logsumexp([np.log(w) + stats.multivariate_normal(m, c).logpdf(x)
                      for w, m, c in zip(weights, means, covariances)], axis=0)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def choice(base):
    for attr, label in (("n_components_", "components"), ("n_active_components_", "active components"),
                        ("bandwidth_", "bandwidth"), ("best_epoch_", "best epoch")):
        if label == "components" and hasattr(base, "n_active_components_"):
            continue
        if hasattr(base, attr):
            return f"{label} {getattr(base, attr):.4g}"
    return ""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--bases", nargs="+", default=list(CASES), help=f"of {list(CASES)}")
    p.add_argument("--n-train", type=int, default=55000)
    p.add_argument("--dim", type=int, default=100)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    mixture = synthetic_mixture(a.dim)
    codes = draw(mixture, a.n_train + 15000)
    train, val, test = codes[: a.n_train], codes[a.n_train : a.n_train + 5000], codes[a.n_train + 5000 :]
    print(f"{len(train)} training, {len(val)} validation, {len(test)} test codes of dimension {a.dim} "
          f"(synthetic 20-component mixture); {a.threads} thread(s), torch.mm {matmul_gflops(threads=a.threads):.0f} "
          f"GFLOP/s float32, CUDA {'yes' if torch.cuda.is_available() else 'no'}")
    print(f"{'base':28s} {'fit s':>8s} {'score s':>8s} {'sample s':>9s} {'test LL':>10s}  chose")
    print(f"{'(the true density)':28s} {'':8s} {'':8s} {'':9s} {true_log_density(mixture, test).mean():10.2f}")
    for name in a.bases:
        kind, settings = CASES[name]
        base = build_base(kind, settings, random_state=0)
        fit = (lambda b: b.fit(train)) if kind == "standard_normal" else (lambda b: b.fit(train, validation=val))
        _, fit_s = timed(lambda: fit(base))  # noqa: B023 (called at once)
        scores, score_s = timed(lambda: base.score_samples(test))  # noqa: B023
        _, sample_s = timed(lambda: base.sample(len(test)))  # noqa: B023
        print(f"{name:28s} {fit_s:8.1f} {score_s:8.2f} {sample_s:9.2f} {scores.mean():10.2f}  {choice(base)}",
              flush=True)


if __name__ == "__main__":
    main()
