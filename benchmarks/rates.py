"""The machine's matrix-product rate, measured in the same run as a benchmark it is compared with."""

import time

import torch


def matmul_gflops(dtype=torch.float32, threads=None, n=2048, repeats=5):
    """Best GFLOP/s of an n x n x n torch.mm in `dtype` on `threads` CPU threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
        return 2 * n**3 / best / 1e9
    finally:
        torch.set_num_threads(previous)
