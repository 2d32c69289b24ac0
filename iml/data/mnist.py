"""MNIST: the IDX files, their checksums, a strict reader, train/validation/test splits
(the workflow steps `download` and `preprocess`), and `load_split`, `PIXEL_RANGE`,
`display_images` as every dataset offers them (iml.data)."""

import gzip
import logging
import struct
import zlib

import numpy as np

from iml.data import download as downloader
from iml.io import save_json, save_npz

log = logging.getLogger(__name__)

URLS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
    "http://yann.lecun.com/exdb/mnist",
]
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# The files each pool of images needs: "full" is the official 60000/10000 split,
# "test_only" carves every split out of the 10000 test images (for offline copies
# that lack the training images).
POOL_FILES = {
    "full": sorted(FILES),
    "test_only": ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
}
_IDX_DTYPES = {0x08: np.uint8}
SIDE = 28
DATA_DIM = SIDE * SIDE
PIXEL_RANGE = (0.0, 1.0)  # what uint8 0..255 stand for: the networks end in a sigmoid


class MNISTFormatError(ValueError):
    pass


def read_idx(path):
    """Read a gzipped IDX file into a uint8 array, refusing truncated or corrupt files."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise MNISTFormatError(f"{path}: not a readable gzip file ({err})") from err
    if len(raw) < 4:
        raise MNISTFormatError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _IDX_DTYPES or not 1 <= ndim <= 3:
        raise MNISTFormatError(f"{path}: bad IDX magic number {raw[:4].hex()}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MNISTFormatError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise MNISTFormatError(
            f"{path}: IDX header promises shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_pair(images_path, labels_path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MNISTFormatError(f"{images_path}: expected N x 28 x 28 images, got {images.shape}")
    if labels.shape != (len(images),):
        raise MNISTFormatError(
            f"{labels_path}: {labels.shape[0]} labels for {len(images)} images in {images_path}"
        )
    bad = labels > 9
    if bad.any():
        raise MNISTFormatError(f"{labels_path}: {int(bad.sum())} labels outside 0..9 (first {int(labels[bad][0])} "
                               f"at index {int(np.flatnonzero(bad)[0])})")
    return images.reshape(len(images), 784), labels


# images in the official files: what a config's split sizes are checked against before any download
OFFICIAL_COUNTS = {"train": 60000, "test": 10000}


def _take(sizes, name, available):
    size = sizes.get(name)
    if size is None:
        return available
    if size > available:
        raise ValueError(f"data split '{name}' asks for {size} images but only {available} remain")
    return size


def split_counts(pool, sizes, n_train_file=OFFICIAL_COUNTS["train"], n_test_file=OFFICIAL_COUNTS["test"]):
    """{split: count} of each split cut from the files' images (a size of None takes what
    remains, in the order the splits are cut); an empty split is refused."""
    if pool == "full":
        n_val = _take(sizes, "validation", n_train_file)
        counts = {"validation": n_val, "train": _take(sizes, "train", n_train_file - n_val),
                  "test": _take(sizes, "test", n_test_file)}
    elif pool == "test_only":
        n_test = _take(sizes, "test", n_test_file)
        n_val = _take(sizes, "validation", n_test_file - n_test)
        counts = {"test": n_test, "validation": n_val, "train": _take(sizes, "train", n_test_file - n_test - n_val)}
    else:
        raise ValueError(f"unknown MNIST pool {pool!r} (expected 'full' or 'test_only')")
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise ValueError(f"sizes {sizes} with pool {pool!r} leave the {' and '.join(empty)} split empty "
                         f"(a size of null takes all that remains); give explicit sizes")
    return counts


def make_splits(files, pool, sizes, seed):
    """Split MNIST into train / validation / test (uint8 images, int labels).

    `files` maps file names to paths. "full": train and validation from the training file,
    test from the test file. "test_only": all three from the test file. A size of None
    takes what remains. Selections are seeded permutations.
    """
    rng = np.random.default_rng(seed)
    test_x, test_y = load_pair(files["t10k-images-idx3-ubyte.gz"], files["t10k-labels-idx1-ubyte.gz"])
    if pool == "full":
        train_x, train_y = load_pair(
            files["train-images-idx3-ubyte.gz"], files["train-labels-idx1-ubyte.gz"]
        )
        n = split_counts(pool, sizes, len(train_x), len(test_x))
        order = rng.permutation(len(train_x))
        test_order = rng.permutation(len(test_x))[: n["test"]]
        parts = {
            "validation": (train_x, train_y, order[: n["validation"]]),
            "train": (train_x, train_y, order[n["validation"] : n["validation"] + n["train"]]),
            "test": (test_x, test_y, np.sort(test_order)),
        }
        description = "official split: train/validation from the 60000 training images, test from the 10000 test images"
    else:
        n = split_counts(pool, sizes, 0, len(test_x))
        order = rng.permutation(len(test_x))
        parts = {
            "test": (test_x, test_y, order[: n["test"]]),
            "validation": (test_x, test_y, order[n["test"] : n["test"] + n["validation"]]),
            "train": (test_x, test_y, order[n["test"] + n["validation"] : n["test"] + n["validation"] + n["train"]]),
        }
        description = "offline split: train, validation and test all carved (disjoint) from the 10000 MNIST test images"
    arrays = {}
    for name, (x, y, idx) in parts.items():
        arrays[f"x_{name}"], arrays[f"y_{name}"] = x[idx], y[idx].astype(np.int64)
    counts = {name: int(len(idx)) for name, (_, _, idx) in parts.items()}
    info = {"pool": pool, "description": description, "seed": seed, "counts": counts}
    return arrays, info


def to_float(images):
    """uint8 pixels to float32 in [0, 1]."""
    return np.asarray(images, dtype=np.float32) / 255.0


def download(filename, dest, mirror, retries, timeout):
    """The workflow step: one official file, checked against its MD5, mirror first."""
    downloader.fetch(filename, dest, FILES[filename], "mnist", URLS, mirror=mirror, retries=retries, timeout=timeout)


def preprocess(raw_paths, pool, sizes, seed, splits_path, info_path):
    """The workflow step: the downloaded files into splits.npz (uint8 rows, int labels) and splits.json."""
    files = {p.split("/")[-1]: p for p in map(str, raw_paths)}
    arrays, info = make_splits(files, pool, sizes, seed)
    log.info("MNIST splits: %s; %s", info["description"], info["counts"])
    save_npz(splits_path, **arrays)
    save_json(info_path, info)


def load_split(data_dir, name, limit=None):
    """`x_<name>`'s first `limit` rows from <data_dir>/splits.npz (uint8 pixels; the audio
    datasets' float chunks are stored alike)."""
    with np.load(f"{data_dir}/splits.npz") as arrays:  # reads this split's array only
        return arrays[f"x_{name}"][:limit]


def display_images(x):
    """Flat rows in [0, 1] -> (N, 28, 28) grey images."""
    return np.asarray(x).reshape(len(x), SIDE, SIDE)
