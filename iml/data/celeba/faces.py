"""The whole CELEB-A set: every image through crop.Job, in threads or processes, into one
memory-mapped uint8 .npy per split, beside crops.csv, no_face.txt, skipped.txt and info.json
(see iml.data.celeba for the files)."""

import concurrent.futures
import contextlib
import csv
import json
import logging
import time
from pathlib import Path

import numpy as np

from iml.data.celeba.crop import CASCADE, CropSettings, Job, cascade_path, close_archives, opencv
from iml.data.celeba.source import (
    DEFAULT_SPLIT_SIZES,
    IMAGE_SUFFIXES,
    SPLITS,
    CelebAFormatError,
    assign_splits,
    list_source,
    read_partition,
    require_source,
)
from iml.io import atomic_path

log = logging.getLogger("iml.data.celeba")

CSV_FIELDS = ["name", "split", "row", "x0", "y0", "x1", "y1", "found", "n_faces", "width", "height"]


@contextlib.contextmanager
def _executor(kind, workers):
    if workers <= 1:
        yield None
    elif kind == "thread":
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            yield ex
    elif kind == "process":
        with concurrent.futures.ProcessPoolExecutor(workers) as ex:
            yield ex
    else:
        raise ValueError(f"executor must be 'thread' or 'process', got {kind!r}")


def _results(job, items, ex, workers):
    """job(item) for each item, in order, a bounded number in flight."""
    if ex is None:
        yield from map(job, items)
        return
    chunk = max(64, 32 * workers)
    for start in range(0, len(items), chunk):
        yield from ex.map(job, items[start : start + chunk], chunksize=1 if isinstance(
            ex, concurrent.futures.ThreadPoolExecutor) else 8)


def _shrink(path, rows, shape):
    """Rewrite the .npy at `path` holding only its first `rows` rows (in bounded chunks)."""
    full = np.load(path, mmap_mode="r")
    tmp = path.with_name(path.name + ".shrink")  # a leftover of a killed run goes with its .part (iml.io)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(rows, *shape))
        for start in range(0, rows, 4096):
            out[start : start + 4096] = full[start : min(rows, start + 4096)]
        out.flush()
        del out, full
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_split(path, job, items, ex, workers, split, size, on_no_face, log_every, on_result):
    """Fill a (len(items), size, size, 3) uint8 .npy at `path`, compacting away skipped
    (and dropped) images; returns the number of rows written."""
    shape = (size, size, 3)
    if not items:
        with open(path, "wb") as f:  # a file object: np.save would add ".npy" to a temporary name
            np.save(f, np.zeros((0, *shape), np.uint8))
        return 0
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(len(items), *shape))
    rows, t0 = 0, time.perf_counter()
    for i, (name, crop, record) in enumerate(_results(job, items, ex, workers), 1):
        keep = crop is not None and (record["found"] or on_no_face == "fallback")
        on_result(name, split, rows if keep else -1, record)
        if keep:
            out[rows] = crop
            rows += 1
        if i % log_every == 0:
            log.info("%s: %d/%d images, %.1f images/s", split, i, len(items), i / (time.perf_counter() - t0))
    out.flush()
    del out
    if rows < len(items):
        _shrink(path, rows, shape)
    return rows


def _select(source, partition_file, split_sizes, seed):
    """The images to crop: (kind, {name: locator}, {split: names}, skipped [(name, reason)],
    unlisted names, missing names, whether an official partition was used)."""
    kind, images, others = list_source(source)
    if not images:
        raise CelebAFormatError(f"{source}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    partition = read_partition(partition_file) if partition_file is not None else None
    skipped = [(name, "not an image file (by its suffix)") for name in others]
    unlisted, missing = [], []
    if partition is not None:
        unlisted = sorted(set(images) - set(partition))
        missing = sorted(set(partition) - set(images))
        skipped += [(name, "not in the partition file") for name in unlisted]
        if missing:
            log.warning("%d images listed in %s are not in %s (e.g. %s)", len(missing), partition_file, source,
                        missing[0])
    splits = assign_splits([n for n in images if partition is None or n in partition], partition, split_sizes, seed)
    return kind, images, splits, skipped, unlisted, missing, partition is not None


def _write_lists(tmps, records, no_face, skipped, on_no_face, fallback_fraction):
    """crops.csv, no_face.txt and skipped.txt (sorted by name) at their temporary names."""
    with open(tmps["crops.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(records)
    action = ("fallback: a centred square crop of side "
              f"{fallback_fraction:g} x the shorter image side") if on_no_face == "fallback" else "dropped"
    tmps["no_face.txt"].write_text(f"# {len(no_face)} images without a detected face ({action}); name<TAB>split\n"
                                   + "".join(f"{n}\t{s}\n" for n, s in no_face))
    skipped.sort()
    tmps["skipped.txt"].write_text(f"# {len(skipped)} files skipped; name<TAB>reason\n"
                                   + "".join(f"{n}\t{r}\n" for n, r in skipped))


def crop_faces(source, partition_file, out_dir, size=64, margin=0.1, threads=1, seed=0, split_sizes=None, *,
               pad_mode="edge", fallback_fraction=1.0, on_no_face="fallback", executor="thread",
               scale_factor=1.1, min_neighbors=5, min_face=0.3, log_every=10000):
    """Crop CelebA faces to size x size RGB uint8 splits under `out_dir` (see iml.data.celeba
    for the files). `source`: img_align_celeba.zip or its folder; `partition_file`:
    list_eval_partition.txt or None (then a seeded split by `split_sizes`). `threads` workers
    (executor "thread" or "process"); OpenCV's own threading is set to one thread meanwhile, so
    `threads` is the parallelism. Returns the info dict also written to info.json."""
    cv2 = opencv()
    from PIL import Image, ImageFile

    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated JPEGs could not be detected")
    if on_no_face not in ("fallback", "drop"):
        raise ValueError(f"on_no_face must be 'fallback' or 'drop', got {on_no_face!r}")
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    settings = CropSettings(size, margin, pad_mode, fallback_fraction, scale_factor, min_neighbors, min_face)
    settings.check()
    require_source(source, partition_file)
    source, out_dir = Path(source), Path(out_dir)
    kind, images, splits, skipped, unlisted, missing, official = _select(source, partition_file, split_sizes, seed)
    job = Job(kind, str(source), settings, str(cascade_path()))
    records, no_face, processed = [], [], [0]

    def on_result(name, split, row, record):
        processed[0] += 1
        if "reason" in record:
            skipped.append((name, record["reason"]))
            return
        records.append({"name": name, "split": split, "row": row, **record})
        if not record["found"]:
            no_face.append((name, split))

    workers = max(1, int(threads))
    previous_cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    counts = {}
    try:
        with contextlib.ExitStack() as stack:
            # entered first, renamed last: info.json appears only when every other file has
            info_tmp = stack.enter_context(atomic_path(out_dir / "info.json"))
            tmps = {name: stack.enter_context(atomic_path(out_dir / name))
                    for name in ("crops.csv", "no_face.txt", "skipped.txt", *(f"{s}.npy" for s in SPLITS))}
            ex = stack.enter_context(_executor(executor, workers))
            for split in SPLITS:
                items = [(name, images[name]) for name in splits[split]]
                counts[split] = _write_split(tmps[f"{split}.npy"], job, items, ex, workers, split, size, on_no_face,
                                             log_every, on_result)
            if ex is not None:
                ex.shutdown()
            seconds = time.perf_counter() - t0
            _write_lists(tmps, records, no_face, skipped, on_no_face, fallback_fraction)
            info = {
                "source": str(source), "source_kind": kind, "partition_file": None if partition_file is None
                else str(partition_file),
                "split_method": ("official partition file" + (f", capped by split_sizes {split_sizes} (seeded subset)"
                                                              if split_sizes else "")) if official
                else f"seeded split of the sorted file names, sizes {({**DEFAULT_SPLIT_SIZES, **(split_sizes or {})})}",
                "seed": seed, "split_sizes": split_sizes,
                "counts": counts, "selected": {s: len(splits[s]) for s in SPLITS},
                "n_images_in_source": len(images), "n_no_face": len(no_face),
                "no_face": {s: sum(1 for _, sp in no_face if sp == s) for s in SPLITS},
                "on_no_face": on_no_face, "n_skipped": len(skipped), "n_unlisted": len(unlisted),
                "n_missing": len(missing), "missing_examples": missing[:20],
                "layout": f"uint8 (N, {size}, {size}, 3), RGB, rows in file-name order (crops.csv 'row')",
                "crop": {"size": size, "margin": margin, "pad_mode": pad_mode, "fallback_fraction": fallback_fraction,
                         "resize": "cv2.INTER_AREA"},
                "detector": {"cascade": CASCADE, "scale_factor": scale_factor, "min_neighbors": min_neighbors,
                             "min_face": min_face, "equalize_histogram": True, "keep": "largest face"},
                "decoder": "Pillow (full decode; truncated files skipped)",
                "versions": {"opencv": cv2.__version__, "pillow": Image.__version__},
                "threads": workers, "executor": executor, "seconds": round(seconds, 3),
                "n_processed": processed[0],
                "images_per_second": round(processed[0] / seconds, 2) if seconds > 0 else None,
            }
            info_tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    finally:
        cv2.setNumThreads(previous_cv_threads)
        close_archives()
    log.info("CelebA preprocessed into %s: %s images, %d without a face, %d skipped, %.1f s", out_dir, counts,
             len(no_face), len(skipped), seconds)
    return info


def load_split_images(path, size=None):
    """A split written by `crop_faces`, memory-mapped read-only: uint8 (N, size, size, 3)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such split file (run the CelebA preprocessing first)")
    try:
        images = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as err:
        raise CelebAFormatError(f"{path}: not a readable .npy file ({err})") from err
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2] \
            or (size is not None and images.shape[1] != size):
        want = f"(N, {size or 'S'}, {size or 'S'}, 3)"
        raise CelebAFormatError(f"{path}: expected uint8 images {want}, got {images.dtype} {images.shape}")
    return images
