"""Benchmark of one EM iteration of the Gaussian HMM base `iml.bases.hmm` (prints figures).

Problem (the audio experiment's size): 300 diagonal states, 80-d codes, about 30k frames in
sequences of 5-15 frames (seeded synthetic data drawn from a random sticky HMM). From the same
initial parameters, in one run:
  * hmmlearn's GaussianHMM(covariance_type="diag", implementation="scaling").fit(X, lengths)
    with n_iter=1 (timed once by default: it is slow; it is single-threaded);
  * the PyTorch engine's em_step in float32 and float64 recursions, on 1 and 2 threads, best
    of 3 after a warm-up (packing the sequences, done once per fit, is timed apart);
  * torch's float32 and float64 matrix-product rate on the same threads, so the engine's
    achieved GFLOP/s (~6K² + 8KD flops per frame) is read against what this machine can do;
and prints the times, wall clock and CPU time of the process, the speed-ups over hmmlearn (bars
at 1 thread, CPU time: >= 20x in float32, >= 15x in float64; on a shared machine the CPU time
is the steadier figure), and how far the engine's log-likelihood and update are from hmmlearn's.

--violin PATH times one EM iteration of 300 states on ONE long sequence (a recording chunked
as the workflow does, 80-d codes from its chunks' principal components) and splits it into the
forward pass and the rest, to show where the time of a single long chain goes.

Run:  python benchmarks/hmm_benchmark.py [--threads 1 2] [--dtypes float32 float64] [--strict]
                                          [--violin PATH]
Exits 0 unless --strict and a bar is missed.
"""

import argparse
import sys
import time

import numpy as np
import torch
from rates import matmul_gflops

from iml.bases.hmm import GaussianHMMBase
from iml.bases.hmm_engines import HmmlearnEngine, TorchEngine
from iml.device import pick_device

BARS = {"float32": 20.0, "float64": 15.0}  # CPU-time speed-up over hmmlearn at 1 thread


def synthetic_sequences(n_states, dim, n_frames, seed=0):
    """Codes from a random HMM with sticky transitions, in sequences of 5-15 frames."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 16, size=n_frames // 10 + 100)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n_frames) + 1]
    transmat = rng.dirichlet(np.full(n_states, 0.1), n_states) + 5 * np.eye(n_states)
    transmat /= transmat.sum(1, keepdims=True)
    means, std = rng.standard_normal((n_states, dim)), rng.uniform(0.2, 0.6, (n_states, dim))
    states = np.empty((len(lengths), lengths.max()), dtype=np.int64)
    states[:, 0] = rng.integers(n_states, size=len(lengths))
    for t in range(1, lengths.max()):  # all sequences step together
        cdf = np.cumsum(transmat[states[:, t - 1]], 1)
        states[:, t] = np.minimum((cdf < rng.random((len(lengths), 1))).sum(1), n_states - 1)
    states = np.concatenate([s[:n] for s, n in zip(states, lengths)])
    codes = means[states] + std[states] * rng.standard_normal((len(states), dim))
    return codes, lengths


def timed(fn):
    """(wall-clock seconds, CPU seconds of this process, result). On a shared machine the CPU
    time is the steadier figure: it leaves out the time other jobs hold the core."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def best(runs):
    """Best wall-clock and best CPU seconds of (wall, cpu, result) runs."""
    return min(r[0] for r in runs), min(r[1] for r in runs)


def relative_difference(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def em_flops(n_frames, n_states, dim):
    """Flops of one EM iteration: per frame alpha @ A, w @ Aᵀ and alphaᵀ w (2K² each), the
    emissions [z², z] @ W (4DK) and the moments γᵀ [z², z, 1] (~4DK)."""
    return n_frames * (6 * n_states**2 + 8 * n_states * dim)


def run_torch(z, lengths, params, device, dtype, threads, repeats):
    """(best wall, best CPU, packing seconds, (loglik, update), float64 batches) of em_step."""
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    engine = TorchEngine(z, lengths, device, dtype)
    t_pack = time.perf_counter() - t0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    step = lambda: (engine.em_step(params), sync())[0]
    step()  # warm-up
    runs = [timed(step) for _ in range(repeats)]
    wall, cpu = best(runs)
    return wall, cpu, t_pack, runs[-1][2], engine.float64_batches // (repeats + 1)


def violin(path, n_states, threads):
    """One EM iteration over one long sequence: the workflow's chunks of the recording, 80-d
    codes from their principal components (the timing depends on shapes, not on the encoder)."""
    from iml.data import audio

    wave, _ = audio.read_audio(path)
    chunks = audio.chunk_waveform(audio.normalise_peak(wave)).astype(np.float64)
    centred = chunks - chunks.mean(0)
    codes = centred @ np.linalg.svd(centred, full_matrices=False)[2][:80].T
    z = (codes - codes.mean(0)) / codes.std(0)
    lengths = np.array([len(z)])
    params = GaussianHMMBase(n_states=n_states, init="random", random_state=0).initial_params(z)
    print(f"\nviolin: {path}: {len(wave) / audio.SAMPLE_RATE:.0f} s, ONE sequence of {len(z)} frames, "
          f"{n_states} states, {threads} thread(s)")
    torch.set_num_threads(threads)
    for dtype in ("float32", "float64"):
        engine = TorchEngine(z, lengths, "cpu", dtype)
        engine.em_step(params)
        wall, cpu = best([timed(lambda: engine.em_step(params)) for _ in range(3)])  # noqa: B023 (called at once)
        wall_f, _ = best([timed(lambda: engine.frame_log_likelihood(params)) for _ in range(3)])  # noqa: B023
        flops = em_flops(len(z), n_states, z.shape[1])
        print(f"  {dtype}: one EM iteration {wall:.3f} s wall ({cpu:.3f} s CPU): forward pass alone "
              f"{wall_f:.3f} s, backward pass and counts {wall - wall_f:.3f} s; {len(z)} sequential steps "
              f"each way, {1e6 * wall / (2 * len(z)):.0f} us a step; {flops / wall / 1e9:.1f} GFLOP/s")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--states", type=int, default=300)
    p.add_argument("--dim", type=int, default=80)
    p.add_argument("--frames", type=int, default=30000)
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts")
    p.add_argument("--torch-repeats", type=int, default=3)
    p.add_argument("--violin", help="also time one EM iteration on this recording as one sequence")
    p.add_argument("--strict", action="store_true", help="exit 1 if a bar is missed")
    a = p.parse_args()
    device = pick_device(a.device)

    codes, lengths = synthetic_sequences(a.states, a.dim, a.frames)
    base = GaussianHMMBase(n_states=a.states, init="random", random_state=0)
    z = (codes - codes.mean(0)) / codes.std(0)
    params = base.initial_params(z)  # means at random frames, unit variances, uniform transitions
    flops = em_flops(len(z), a.states, a.dim)
    print(f"problem: {a.states} states, D = {a.dim}, {len(z)} frames in {len(lengths)} sequences "
          f"(lengths {lengths.min()}-{lengths.max()}, mean {lengths.mean():.1f}), seeded synthetic data; "
          f"{flops / 1e9:.1f} GFLOP per EM iteration")
    print(f"torch {torch.__version__} on {device}; emissions and statistics in float64")

    def hmmlearn_step():
        model = HmmlearnEngine.model(params)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 for states with no posterior mass
            model.fit(z, lengths)
        return model

    wall_hl, cpu_hl, model = timed(hmmlearn_step)
    ll_hl = float(model.monitor_.history[-1])
    print(f"hmmlearn one EM iteration (scaling, with lengths): {wall_hl:.3f} s wall, {cpu_hl:.3f} s CPU")
    covars = np.diagonal(model.covars_, axis1=1, axis2=2)
    print(f"\n{'threads':>7} {'dtype':>8} {'wall s':>7} {'CPU s':>7} {'x wall':>7} {'x CPU':>7} "
          f"{'GFLOP/s':>8} {'matmul':>7} {'of mm':>6} {'f64 redo':>8} {'rel. LL diff':>12}  bar")
    missed = []
    for threads in a.threads:
        for dtype in a.dtypes:
            wall, cpu, _, (ll, new), redone = run_torch(z, lengths, params, device, dtype, threads,
                                                        a.torch_repeats)
            rate = matmul_gflops(getattr(torch, dtype), threads) if device.type == "cpu" else float("nan")
            achieved = flops / wall / 1e9
            bar = BARS.get(dtype) if threads == 1 and device.type == "cpu" else None
            verdict = "" if bar is None else f"{bar:.0f}x CPU {'PASS' if cpu_hl / cpu >= bar else 'FAIL'}"
            if bar is not None and cpu_hl / cpu < bar:
                missed.append(dtype)
            print(f"{threads:>7} {dtype:>8} {wall:7.3f} {cpu:7.3f} {wall_hl / wall:7.1f} {cpu_hl / cpu:7.1f} "
                  f"{achieved:8.1f} {rate:7.1f} {achieved / rate:6.0%} {redone:>8} "
                  f"{relative_difference(np.array(ll), np.array(ll_hl)):12.2e}  {verdict}")
            worst = max(np.nanmax(np.abs(ours - ref)) for ours, ref in
                        [(new.startprob, model.startprob_), (new.transmat, model.transmat_),
                         (new.means, model.means_), (new.variances, covars)])
            if worst > 1e-4:
                print(f"        WARNING: the update differs from hmmlearn's by up to {worst:.3g}")
    print("(x wall / x CPU: speed-up over hmmlearn's one iteration; of mm: achieved GFLOP/s as a share of "
          "torch.mm's rate in the same dtype and threads; f64 redo: E-step batches redone in float64)")
    if a.violin:
        violin(a.violin, a.states, 1)
    return 1 if a.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
