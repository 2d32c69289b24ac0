"""Benchmark of the paper-size audio autoencoder's training step on the CPU (prints figures).

The 1-D conv autoencoder of Sec. 4.2 (1 -> 64 -> 128 -> 80, filters of 200 samples, strides
2, 2; mirrored transposed convolutions), batches of 100 chunks of 800 samples, Adam, as the
workflow trains it (`iml.training`). For each way of computing the convolutions (`convolution`:
direct, torch's; fft, the model's default) and 1 and 2 threads: seconds a step and chunks per
second; for direct convolution also the achieved GFLOP/s (forward and backward flops counted by
torch.utils.flop_counter) as a share of torch's float32 matrix-product rate measured in the same
run; for fft the speed-up over direct at the same thread count.

Run:  python benchmarks/audio_ae_benchmark.py [--threads 1 2] [--steps 10] [--convolutions direct fft]
"""

import argparse
import time

import torch
from rates import matmul_gflops
from torch.utils.flop_counter import FlopCounterMode

from iml.models import build_model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--convolutions", nargs="+", default=["direct", "fft"], choices=["direct", "fft"])
    a = p.parse_args()
    x = torch.randn(a.batch, 800) * 0.1
    direct_steps = {}
    for convolution in a.convolutions:
        torch.manual_seed(0)
        model = build_model("iml_audio", 80, 800, {"channels": [64, 128], "kernel": 200, "convolution": convolution})
        optimizers = model.make_optimizers({"lr": 1e-3})
        with FlopCounterMode(display=False) as counter:
            model.train_step(x, optimizers)
        flops = counter.get_total_flops()
        print(f"paper-size audio autoencoder, convolution {convolution}, batch {a.batch} chunks of 800"
              + (f": {flops / 1e9:.1f} GFLOP per training step (forward + backward)" if convolution == "direct" else "")
              + f", torch {torch.__version__}")
        for threads in a.threads:
            step = median_step(model, optimizers, x, threads, a.steps)
            line = f"  {threads} thread(s): {step:.3f} s a step (median of {a.steps}), {a.batch / step:.0f} chunks/s"
            if convolution == "direct":
                direct_steps[threads] = step
                rate, achieved = matmul_gflops(torch.float32, threads), flops / step / 1e9
                line += (f", {achieved:.1f} GFLOP/s = {achieved / rate:.0%} of torch.mm's {rate:.1f} GFLOP/s "
                         f"(bar 30%) {'PASS' if achieved / rate >= 0.3 else 'FAIL'}")
            elif threads in direct_steps:
                line += f", {direct_steps[threads] / step:.1f}x direct convolution's speed"
            print(line)


def median_step(model, optimizers, x, threads, steps):
    """The median seconds of `steps` training steps on `threads` threads, after a warm-up."""
    torch.set_num_threads(threads)
    model.train_step(x, optimizers)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.train_step(x, optimizers)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]  # median: steadier than the best on a shared machine


if __name__ == "__main__":
    main()
