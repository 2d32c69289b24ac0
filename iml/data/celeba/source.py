"""CELEB-A's source: the images (a zip or a folder), the official partition file, and the
train / validation / test assignment of file names (see iml.data.celeba for the whole story)."""

import zipfile
from pathlib import Path

import numpy as np

SPLITS = ("train", "validation", "test")
PARTITION_LABELS = {"0": "train", "1": "validation", "2": "test"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DEFAULT_SPLIT_SIZES = {"test": 0.1, "validation": 0.1, "train": None}
CELEBA_SITE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
CELEBA_DRIVE = "https://drive.google.com/drive/folders/0B7EVK8r0v71pWEZsZE9oNnFzTm8"
# Google Drive file ids and MD5s of the official files (as torchvision lists them)
IMAGES_ZIP = {"name": "img_align_celeba.zip", "drive_id": "0B7EVK8r0v71pZjFTYXZWM3FlRnM",
              "md5": "00d2c5bc6d35e252742224ab0c1e8fcb"}
PARTITION_TXT = {"name": "list_eval_partition.txt", "drive_id": "0B7EVK8r0v71pY0NSMzRuSXJEVkk",
                 "md5": "d32c9cbf5e040fd4025c592c306e6668"}

class CelebAMissingError(FileNotFoundError):
    pass


class CelebAFormatError(ValueError):
    pass


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


def require_source(source, partition_file=None):
    """The one check that the user's images (and partition file, when named) are where the
    config says, before any work: CelebAMissingError saying where to get them otherwise."""
    if not Path(source).exists():
        raise CelebAMissingError(missing_source_message(source, partition_file))
    if partition_file and not Path(partition_file).is_file():
        raise CelebAMissingError(missing_partition_message(partition_file))


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
