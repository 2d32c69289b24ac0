"""CELEB-A (Sec. 4.1): faces found with a face detector, cropped, resized to 64x64 RGB.

Input: the aligned-and-cropped CelebA images, `img_align_celeba.zip` or the folder it
extracts to (178x218 JPEGs named 000001.jpg ... 202599.jpg), and optionally the official
partition file `list_eval_partition.txt` (lines `000001.jpg 0`; 0 train, 1 validation,
2 test: 162770 / 19867 / 19962 images).

Per image:
  * decoded with Pillow, fully (`Image.load()`), never with cv2.imread: OpenCV returns None
    for unreadable files and libjpeg may hand back a partially decoded (grey-filled) image
    for a truncated JPEG, while Pillow raises "image file is truncated". (`Image.verify()` is
    no check for JPEGs: it passes a file cut in half.) Unreadable, truncated or non-image
    files, images smaller than MIN_SIDE and pixels wider than 16 bits are skipped, counted and
    named in skipped.txt; they never stop the run. 16-bit grey images are scaled to 8 bits.
  * faces found with OpenCV's Haar cascade (haarcascade_frontalface_default.xml) on the
    histogram-equalised grey image, searching faces no smaller than min_face (0.3) of the
    shorter side (aligned CelebA faces are about 0.5-0.65 of it; 0.3 instead of 0.2 halves the
    detection time and found the same faces on the sample); the largest face is kept and
    expanded to a square whose side is the face side times (1 + 2 * margin), centred on it.
  * no face: a centred square crop (side = fallback_fraction * the shorter image side),
    counted and named in no_face.txt; or, with on_no_face="drop", left out.
  * the square is cut out, the parts outside the image filled by padding (pad_mode "edge":
    the border pixels repeated, the default; "reflect"; or "constant": black), and resized
    to size x size with cv2.INTER_AREA. Result: RGB uint8.
  * its crop box (x0, y0, x1, y1 in the original image's pixels; may reach outside it where
    padding was used), whether a face was found and how many, go to crops.csv.

Splits: the official partition file when given (split_sizes then caps each split with a
seeded subset: the paper used 146209 training and 10000 test images); else a seeded
permutation of the sorted file names cut into test, validation and train (sizes as counts,
fractions of all images, or None for what remains; default 10% / 10% / the rest).

Output (`preprocess`): {out_dir}/train.npy, validation.npy, test.npy (uint8, N x size x
size x 3, RGB, rows in file-name order), crops.csv, no_face.txt, skipped.txt, info.json.
Each split array is filled on disk through np.lib.format.open_memmap, so the images never sit
in memory; every file is written under a temporary name and renamed only after all of them
are complete (info.json last). `load_split_images` maps a split read-only.
"""

import concurrent.futures
import contextlib
import csv
import io
import json
import logging
import os
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iml.io import atomic_path

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
PARTITION_LABELS = {"0": "train", "1": "validation", "2": "test"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
CASCADE = "haarcascade_frontalface_default.xml"
PAD_MODES = ("edge", "reflect", "constant")
DEFAULT_SPLIT_SIZES = {"test": 0.1, "validation": 0.1, "train": None}
CELEBA_SITE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
CELEBA_DRIVE = "https://drive.google.com/drive/folders/0B7EVK8r0v71pWEZsZE9oNnFzTm8"
# Google Drive file ids and MD5s of the official files (as torchvision lists them)
IMAGES_ZIP = {"name": "img_align_celeba.zip", "drive_id": "0B7EVK8r0v71pZjFTYXZWM3FlRnM",
              "md5": "00d2c5bc6d35e252742224ab0c1e8fcb"}
PARTITION_TXT = {"name": "list_eval_partition.txt", "drive_id": "0B7EVK8r0v71pY0NSMzRuSXJEVkk",
                 "md5": "d32c9cbf5e040fd4025c592c306e6668"}
MIN_SIDE = 24  # pixels: the Haar cascade's window; a smaller image holds no detectable face
CSV_FIELDS = ["name", "split", "row", "x0", "y0", "x1", "y1", "found", "n_faces", "width", "height"]


class CelebAMissingError(FileNotFoundError):
    pass


class CelebAFormatError(ValueError):
    pass


def _cv2():
    try:
        import cv2
    except ImportError as err:
        raise ImportError('CELEB-A preprocessing needs OpenCV: pip install "opencv-python-headless>=4.8,<5" '
                          "(the 4.x wheels ship the Haar cascades as cv2.data.haarcascades)") from err
    return cv2


def cascade_path():
    cv2 = _cv2()
    path = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / CASCADE
    if not path.is_file():
        raise FileNotFoundError(f"OpenCV {cv2.__version__} has no {CASCADE} at {path}; "
                                'install "opencv-python-headless>=4.8,<5" (the 5.0 wheels lack the cascade files)')
    return path


# ---------------------------------------------------------------- the source: a zip or a folder


def missing_source_message(source, partition_file=None):
    lines = [
        f"CelebA images not found at {source}.",
        f"Download {IMAGES_ZIP['name']} (about 1.4 GB, 'Align&Cropped Images', "
        f"MD5 {IMAGES_ZIP['md5']}) from the CelebA site {CELEBA_SITE} -> its Google Drive folder "
        f"{CELEBA_DRIVE} (Img/{IMAGES_ZIP['name']}; file link "
        f"https://drive.google.com/file/d/{IMAGES_ZIP['drive_id']}/view), and put it at exactly {source} "
        f"(the zip itself, or the folder of JPEGs it extracts to).",
    ]
    if partition_file is not None:
        lines.append(f"The official split, {PARTITION_TXT['name']} (Eval/ in the same Drive folder, "
                     f"https://drive.google.com/file/d/{PARTITION_TXT['drive_id']}/view), goes at {partition_file}.")
    return " ".join(lines)


def missing_partition_message(path):
    return (f"partition file not found at {path}. Download {PARTITION_TXT['name']} (MD5 {PARTITION_TXT['md5']}) "
            f"from the CelebA site {CELEBA_SITE} -> its Google Drive folder {CELEBA_DRIVE} (Eval/{PARTITION_TXT['name']}; "
            f"file link https://drive.google.com/file/d/{PARTITION_TXT['drive_id']}/view) and put it at exactly {path}, "
            "or pass no partition file for a seeded split.")


def _is_image_name(name):
    return name.lower().endswith(IMAGE_SUFFIXES)


def _is_hidden(name):
    return name.startswith(".") or name.startswith("__MACOSX/") or "/." in name or "/__MACOSX/" in name


def list_source(source):
    """(kind, images, others): kind "zip" or "folder"; images: {file name: locator} (a path
    for a folder, a member name for a zip), keyed by base name; others: the non-image files
    (base names), which are skipped. Hidden files and __MACOSX entries are ignored."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
        if not any(_is_image_name(p.name) for p in files) and (source / "img_align_celeba").is_dir():
            return list_source(source / "img_align_celeba")  # the folder the zip extracts to
        kind, entries = "folder", [(p.name, str(p)) for p in files]
    elif source.is_file():
        try:
            with zipfile.ZipFile(source) as archive:
                members = [m.filename for m in archive.infolist() if not m.is_dir()]
        except zipfile.BadZipFile as err:
            raise CelebAFormatError(f"{source}: not a readable zip file ({err})") from err
        kind, entries = "zip", [(m.rsplit("/", 1)[-1], m) for m in members if not _is_hidden(m)]
    else:
        raise CelebAMissingError(missing_source_message(source))
    images, others = {}, []
    for name, locator in entries:
        if not _is_image_name(name):
            others.append(name)
        elif name in images:
            raise CelebAFormatError(f"{source}: two images named {name} ({images[name]} and {locator})")
        else:
            images[name] = locator
    return kind, images, sorted(others)


def read_partition(path):
    """{file name: split} from list_eval_partition.txt, refusing malformed lines by number."""
    path = Path(path)
    if not path.is_file():
        raise CelebAMissingError(missing_partition_message(path))
    partition = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in PARTITION_LABELS:
            raise CelebAFormatError(f"{path}:{number}: expected '<file name> <0|1|2>', got {line!r}")
        if fields[0] in partition:
            raise CelebAFormatError(f"{path}:{number}: {fields[0]} listed twice")
        partition[fields[0]] = PARTITION_LABELS[fields[1]]
    if not partition:
        raise CelebAFormatError(f"{path}: no entries")
    return partition


def _size(value, name, available, total):
    """A split size: None -> all available; a float in (0, 1] -> that fraction of `total`;
    an int -> that count."""
    if value is None:
        return available
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise ValueError(f"split '{name}': a fraction must lie in (0, 1], got {value}")
        value = int(round(value * total))
    if int(value) != value or value < 0:
        raise ValueError(f"split '{name}': size must be a count >= 0, a fraction or None, got {value!r}")
    if value > available:
        raise ValueError(f"split '{name}' asks for {value} images but only {available} are available")
    return int(value)


def assign_splits(names, partition=None, split_sizes=None, seed=0):
    """{split: sorted names}. With a partition: the official splits, each optionally capped to
    a seeded subset by split_sizes. Without: a seeded permutation cut into test, validation,
    train (sizes: counts, fractions of all names, or None for what remains)."""
    unknown = set(split_sizes or {}) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split names {sorted(unknown)} (expected {list(SPLITS)})")
    rng = np.random.default_rng(seed)
    names = sorted(names)
    if partition is not None:
        out = {}
        for split in SPLITS:
            pool = [n for n in names if partition.get(n) == split]
            want = (split_sizes or {}).get(split)
            k = _size(want, split, len(pool), len(pool))
            keep = np.sort(rng.permutation(len(pool))[:k]) if k < len(pool) else np.arange(len(pool))
            out[split] = [pool[i] for i in keep]
        return out
    sizes = {**DEFAULT_SPLIT_SIZES, **(split_sizes or {})}
    order = rng.permutation(len(names))
    out, start = {}, 0
    for split in ("test", "validation", "train"):
        k = _size(sizes[split], split, len(names) - start, len(names))
        out[split] = sorted(names[i] for i in order[start : start + k])
        start += k
    return {split: out[split] for split in SPLITS}


# ---------------------------------------------------------------- one image


@dataclass(frozen=True)
class CropSettings:
    size: int = 64
    margin: float = 0.1
    pad_mode: str = "edge"
    fallback_fraction: float = 1.0
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face: float = 0.3  # smallest face searched for, as a fraction of the shorter image side

    def check(self):
        if self.size < 1 or self.margin < 0 or not 0 < self.fallback_fraction <= 1 or self.scale_factor <= 1 \
                or self.min_neighbors < 0 or not 0 <= self.min_face <= 1:
            raise ValueError(f"bad crop settings {self}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")


def decode_image(data, name="<bytes>"):
    """RGB uint8 (H, W, 3) from encoded bytes; CelebAFormatError for anything Pillow cannot
    decode completely (truncated JPEGs included)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every byte: truncation raises OSError here
            if image.mode.startswith("I") or image.mode == "F":  # 16-bit or wider: convert("RGB") would clip at 255
                return _high_depth_to_rgb(image, name)
            return np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise CelebAFormatError(f"{name}: not a readable image ({type(err).__name__}: {err})") from err


def _high_depth_to_rgb(image, name):
    """16-bit grey (Pillow modes I;16*, or I holding 0..65535) scaled to 8 bits; other integer
    or float pixels have no known full scale and are refused."""
    pixels = np.asarray(image).astype(np.int64) if image.mode != "F" else None
    if pixels is None or pixels.min() < 0 or pixels.max() > 65535:
        raise CelebAFormatError(f"{name}: {image.mode} pixels wider than 16 bits or floating point: "
                                "no 8-bit scale is known for them")
    grey = ((pixels + 128) // 257).astype(np.uint8)  # 65535 -> 255, rounded
    return np.repeat(grey[:, :, None], 3, axis=2)


def detect_largest_face(gray, classifier, settings):
    """(x, y, w, h) of the largest face, and how many were found (0: None)."""
    cv2 = _cv2()
    side = int(settings.min_face * min(gray.shape))
    faces = classifier.detectMultiScale(cv2.equalizeHist(gray), scaleFactor=settings.scale_factor,
                                        minNeighbors=settings.min_neighbors, minSize=(side, side))
    if len(faces) == 0:
        return None, 0
    areas = [int(w) * int(h) for _, _, w, h in faces]
    return tuple(int(v) for v in faces[int(np.argmax(areas))]), len(faces)


def crop_box(image_shape, face, settings):
    """Square (x0, y0, x1, y1): the face expanded by the margin, else the centred fallback."""
    height, width = image_shape[:2]
    if face is None:
        side = max(1, int(round(settings.fallback_fraction * min(height, width))))
        cx, cy = width / 2, height / 2
    else:
        x, y, w, h = face
        side = max(1, int(round(max(w, h) * (1 + 2 * settings.margin))))
        cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    return x0, y0, x0 + side, y0 + side


def cut_and_resize(image, box, settings):
    """The box cut out of `image` (padded where it leaves the image) at size x size."""
    cv2 = _cv2()
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    pad = [max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width)]  # top bottom left right
    if any(pad):
        border = {"edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101,
                  "constant": cv2.BORDER_CONSTANT}[settings.pad_mode]
        if settings.pad_mode == "reflect" and max(pad) >= min(height, width):
            border = cv2.BORDER_REPLICATE  # reflection cannot reach further than the image itself
        image = cv2.copyMakeBorder(image, *pad, border, value=(0, 0, 0))
        x0, x1, y0, y1 = x0 + pad[2], x1 + pad[2], y0 + pad[0], y1 + pad[0]
    patch = np.ascontiguousarray(image[y0:y1, x0:x1])
    return cv2.resize(patch, (settings.size, settings.size), interpolation=cv2.INTER_AREA)


_local = threading.local()  # per thread (and so per process): the classifier and open zip files


@dataclass(frozen=True)
class _Job:
    """Reads, decodes, detects and crops one image; picklable, so it runs in threads or processes."""

    kind: str
    source: str
    settings: CropSettings
    cascade: str

    def _classifier(self):
        key = (os.getpid(), self.cascade)  # a forked worker inherits its parent's thread-locals: key by process
        if getattr(_local, "cascade_key", None) != key:
            _local.classifier, _local.cascade_key = _cv2().CascadeClassifier(self.cascade), key
        return _local.classifier

    def _read(self, locator):
        if self.kind == "folder":
            return Path(locator).read_bytes()
        archives = _local.__dict__.setdefault("archives", {})
        key = (os.getpid(), self.source)  # never share an inherited file offset with forked siblings
        if key not in archives:
            archives[key] = zipfile.ZipFile(self.source)
        return archives[key].read(locator)

    def __call__(self, item):
        name, locator = item
        try:
            image = decode_image(self._read(locator), name)
        except (CelebAFormatError, OSError, zipfile.BadZipFile, EOFError) as err:
            reason = str(err).removeprefix(f"{name}: ")
            return name, None, {"reason": reason}
        if min(image.shape[:2]) < MIN_SIDE:
            return name, None, {"reason": f"{image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                                          f"{MIN_SIDE}-pixel side a face is searched for at"}
        gray = _cv2().cvtColor(image, _cv2().COLOR_RGB2GRAY)
        face, n_faces = detect_largest_face(gray, self._classifier(), self.settings)
        box = crop_box(image.shape, face, self.settings)
        crop = cut_and_resize(image, box, self.settings)
        x0, y0, x1, y1 = box
        record = {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "found": int(face is not None), "n_faces": n_faces,
                  "width": image.shape[1], "height": image.shape[0]}
        return name, crop, record


def _close_archives():
    """Close the zip files this thread opened (worker threads' close as the threads end)."""
    for archive in _local.__dict__.pop("archives", {}).values():
        archive.close()


# ---------------------------------------------------------------- the whole set


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


def preprocess(source, partition_file, out_dir, size=64, margin=0.1, threads=1, seed=0, split_sizes=None, *,
               pad_mode="edge", fallback_fraction=1.0, on_no_face="fallback", executor="thread",
               scale_factor=1.1, min_neighbors=5, min_face=0.3, log_every=10000):
    """Crop CelebA faces to size x size RGB uint8 splits under `out_dir` (see the module
    docstring for the files). `source`: img_align_celeba.zip or its folder; `partition_file`:
    list_eval_partition.txt or None (then a seeded split by `split_sizes`). `threads` workers
    (executor "thread" or "process"); OpenCV's own threading is set to one thread meanwhile, so
    `threads` is the parallelism. Returns the info dict also written to info.json."""
    cv2 = _cv2()
    from PIL import Image, ImageFile

    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated JPEGs could not be detected")
    if on_no_face not in ("fallback", "drop"):
        raise ValueError(f"on_no_face must be 'fallback' or 'drop', got {on_no_face!r}")
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    settings = CropSettings(size, margin, pad_mode, fallback_fraction, scale_factor, min_neighbors, min_face)
    settings.check()
    source, out_dir = Path(source), Path(out_dir)
    if not source.exists():
        raise CelebAMissingError(missing_source_message(source, partition_file))
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
    job = _Job(kind, str(source), settings, str(cascade_path()))
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
            info = {
                "source": str(source), "source_kind": kind, "partition_file": None if partition_file is None
                else str(partition_file),
                "split_method": ("official partition file" + (f", capped by split_sizes {split_sizes} (seeded subset)"
                                                              if split_sizes else "")) if partition is not None
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
        _close_archives()
    log.info("CelebA preprocessed into %s: %s images, %d without a face, %d skipped, %.1f s", out_dir, counts,
             len(no_face), len(skipped), seconds)
    return info


def load_split_images(path, size=None):
    """A split written by `preprocess`, memory-mapped read-only: uint8 (N, size, size, 3)."""
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
