"""Benchmark of the CELEB-A IML autoencoder's training step (prints figures; self-contained).

Trains `iml.models.dcgan.DCGANAutoencoder` (DCGAN width d=128, latent K=100, 64x64 RGB) for a
fixed number of Adam steps (lr 2e-4, betas 0.5/0.999) through the model's own train_step, the
call the shared training loop makes, with the data held as uint8 on the device and scaled to
[-1, 1] per batch, as the loop does. Prints:
  * images/s over the timed steps (after untimed warm-up steps, CUDA synchronised);
  * peak memory: GPU memory allocated (CUDA) or the process's peak RSS (CPU);
  * how long one epoch of the paper's 146209 training images would take at that rate;
  * whether the loss fell: the reconstruction MSE on a fixed batch before and after training
    (exit status 1 when it did not);
  * with --amp: the same run again with bfloat16 autocast (the model's amp=True) and the gain.

Data: --data PATH, a split written by iml.data.celeba.preprocess (train.npy, uint8
N x 64 x 64 x 3), else synthetic smooth random images (4x4 noise blown up to 64x64).

Run:  python benchmarks/celeba_train_benchmark.py [--amp] [--steps N] [--batch-size B] [--data PATH]
Defaults: CUDA when present (200 timed steps + 10 warm-up, batch 64), else CPU (5 steps, 1
warm-up, batch 64: about a minute or two on a small CPU).
"""

import argparse
import os
import platform
import resource
import sys
import time

import numpy as np
import torch

PAPER_TRAIN_IMAGES = 146209


def synthetic_images(n, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(coarse, 16, 1), 16, 2)


def load_images(path, n):
    if path is None:
        return synthetic_images(n), f"synthetic smooth random images ({n})"
    from iml.data.celeba import load_split_images

    images = load_split_images(path, size=64)
    if len(images) == 0:
        sys.exit(f"{path}: holds no images")
    take = min(n, len(images))
    return np.asarray(images[:take]), f"{take} preprocessed CelebA faces from {path}"


def peak_memory(device):
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB GPU memory allocated (peak)"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return f"{rss_kib / 2**20:.2f} GiB peak RSS of this process"


def run(args, device, images, amp):
    from iml.data.images import from_image
    from iml.models.dcgan import DCGANAutoencoder

    torch.manual_seed(args.seed)
    model = DCGANAutoencoder(args.latent_dim, width=args.width, amp=amp).to(device).train()
    optimizers = model.make_optimizers({"lr": args.lr, "betas": (0.5, 0.999)})
    data = torch.as_tensor(from_image(images)).to(device)  # uint8 on the device, as the training loop keeps it
    generator = torch.Generator().manual_seed(args.seed)

    def batch(i):
        index = torch.randint(len(data), (args.batch_size,), generator=generator).to(device)
        return data[index].float() / 127.5 - 1

    fixed = data[: args.batch_size].float() / 127.5 - 1

    def fixed_loss():
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            return float(model.training_loss(fixed))

    before = fixed_loss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(args.warmup):
        model.train_step(batch(i), optimizers)
    sync(device)
    losses = []
    t0 = time.perf_counter()
    for i in range(args.steps):
        losses.append(model.train_step(batch(i), optimizers)["loss"])
    sync(device)
    seconds = time.perf_counter() - t0
    losses = [float(v) for v in losses]
    after = fixed_loss()
    rate = args.steps * args.batch_size / seconds
    return {"rate": rate, "seconds": seconds, "before": before, "after": after, "first": losses[0],
            "last": losses[-1], "memory": peak_memory(device), "finite": bool(np.isfinite(losses).all())}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def report(name, r, args):
    falls = r["finite"] and r["after"] < r["before"]
    print(f"[{name}] {args.steps} steps x batch {args.batch_size} in {r['seconds']:.2f} s: {r['rate']:.1f} images/s")
    print(f"[{name}] peak memory: {r['memory']}")
    print(f"[{name}] one epoch of {PAPER_TRAIN_IMAGES} images: {PAPER_TRAIN_IMAGES / r['rate']:.0f} s "
          f"({PAPER_TRAIN_IMAGES / r['rate'] / 60:.1f} min)")
    print(f"[{name}] loss on a fixed batch: {r['before']:.4f} before, {r['after']:.4f} after "
          f"(training steps: first {r['first']:.4f}, last {r['last']:.4f}) -> {'falls: OK' if falls else 'DOES NOT FALL'}")
    return falls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    parser.add_argument("--steps", type=int, help="timed steps (default: 200 on CUDA, 5 on CPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps first (default: 10 on CUDA, 1 on CPU)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--images", type=int, help="images held on the device (default: 8192 on CUDA, 256 on CPU)")
    parser.add_argument("--data", help="a preprocessed split (train.npy); default: synthetic images")
    parser.add_argument("--amp", action="store_true", help="also run with bfloat16 autocast and report the gain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.steps = args.steps or (200 if cuda else 5)
    args.warmup = args.warmup if args.warmup is not None else (10 if cuda else 1)
    args.images = args.images or (8192 if cuda else 256)
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest convolutions
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, " \
               f"{os.cpu_count()} cores"
    images, source = load_images(args.data, args.images)
    print(f"device: {device} ({name}); torch {torch.__version__}")
    print(f"model: DCGANAutoencoder width {args.width}, latent {args.latent_dim}; data: {source}")
    if cuda:
        print(f"TF32: matmul {torch.backends.cuda.matmul.allow_tf32}, cuDNN conv {torch.backends.cudnn.allow_tf32}")

    ok = True
    fp32 = run(args, device, images, amp=False)
    ok &= report("fp32", fp32, args)
    if args.amp:
        if not cuda:
            print("[amp] skipped: the model's bf16 autocast is for CUDA (on the CPU it is ignored)")
        else:
            bf16 = run(args, device, images, amp=True)
            ok &= report("amp bf16", bf16, args)
            print(f"[amp] gain: {bf16['rate'] / fp32['rate']:.2f}x images/s; "
                  f"epoch {PAPER_TRAIN_IMAGES / fp32['rate']:.0f} s -> {PAPER_TRAIN_IMAGES / bf16['rate']:.0f} s")
    print("summary:", "OK" if ok else "FAILED (the loss did not fall)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
