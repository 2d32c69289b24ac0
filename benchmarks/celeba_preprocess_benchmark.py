"""Benchmark of `iml.data.celeba.crop_faces` (prints figures): images/s with 1 and 2 worker
threads (and processes), on the CelebA sample repeated to about --images images.

The sample (the data copy's celeba_sample folder: 32 aligned 178x218 images + 30 at 256x256) is
linked under distinct names into a temporary folder until it holds --images files, and the
whole preprocessing (decode with Pillow, Haar face detection, crop, resize, write the
memory-mapped splits) runs once per setting, best of --repeats. OpenCV's own threading is set
to one thread inside crop_faces, so the worker count is the parallelism. "cores busy" is the
CPU time used divided by the wall time: about the worker count when the workers really run in
parallel (OpenCV and Pillow release the GIL), less when the machine is shared.

Run:  python benchmarks/celeba_preprocess_benchmark.py [--images 500] [--workers 1 2] [--repeats 1]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_SAMPLE = ROOT.parent / "shared" / "data" / "celeba_sample"
FULL_CELEBA = 202599


def cpu_seconds():
    """CPU time of this process and its finished children (the process pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def build_folder(sample, folder, n_images):
    sources = sorted(sample.glob("*/*.jpg"))
    if not sources:
        sys.exit(f"no JPEGs under {sample}")
    for i in range(n_images):
        os.symlink(sources[i % len(sources)], folder / f"{i:06d}.jpg")
    return len(sources)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=pathlib.Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--executors", nargs="+", default=["thread", "process"], choices=["thread", "process"])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import cv2

    from iml.data.celeba import crop_faces

    print(f"CPU cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; OpenCV {cv2.__version__}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp) / "images"
        folder.mkdir()
        distinct = build_folder(args.sample, folder, args.images)
        print(f"{args.images} images ({distinct} distinct sample files repeated) from {args.sample}")
        for executor in args.executors:
            for workers in args.workers:
                if workers == 1 and executor == "process" and "thread" in args.executors:
                    continue  # one worker runs inline either way
                best = None
                for r in range(args.repeats):
                    c0, t0 = cpu_seconds(), time.perf_counter()
                    info = crop_faces(folder, None, pathlib.Path(tmp) / f"out_{executor}_{workers}_{r}", threads=workers,
                                      executor=executor)
                    seconds = time.perf_counter() - t0
                    if best is None or seconds < best:
                        best, cores = seconds, (cpu_seconds() - c0) / seconds
                rate = args.images / best
                results[(executor, workers)] = rate
                print(f"  {executor:7s} x {workers}: {rate:7.1f} images/s  ({best:.2f} s, {cores:.2f} cores busy; faces in "
                      f"{args.images - info['n_no_face']}/{args.images}; "
                      f"all {FULL_CELEBA} CelebA images: {FULL_CELEBA / rate / 60:.0f} min)")
    base = results.get(("thread", 1))
    if base:
        for (executor, workers), rate in results.items():
            if workers > 1:
                print(f"speedup of {executor} x {workers} over 1 worker: {rate / base:.2f}x")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("note: the machine is busier than its core count; parallel speedups are understated")


if __name__ == "__main__":
    main()
