"""The datasets, one module each: where its files come from, how they are preprocessed,
how a split is loaded and how its samples are shown. An image dataset's module offers

    download(...), preprocess(...)     its workflow steps, called by its own scripts
    load_split(data_dir, name, limit)  a split's flat rows as stored (uint8 pixels)
    PIXEL_RANGE                        the values uint8 0..255 stand for
    DATA_DIM, display_images(x)        the row length; rows -> images in [0, 1] for plots

and is named in IMAGE_DATASETS. An audio source kind (a `source:` of audio.datasets) is a function
(inputs, settings, chunk) -> (arrays, info) named in AUDIO_SOURCES; iml.data.audio.preprocess
writes what it returns.

Every dataset's preprocessing writes one folder, data/<dataset>/ under the results, holding
splits.json (SPLITS_INFO: what the split is, read by split_info) beside its arrays. The folder's
name is the dataset's name: an image dataset's (IMAGE_DATASETS) arrays are laid out as its module
says; every other name is an audio dataset, whose float chunks, their recordings' lengths (in
chunks) and names are arrays in splits.npz (SPLITS_ARRAYS), as MNIST's rows and labels are.

The other steps reach the data only through the functions below; each takes the dataset's
folder or its splits.json, the file the rules declare as the steps' input.
"""

import importlib
from pathlib import Path

import numpy as np

IMAGE_DATASETS = {"mnist": "iml.data.mnist", "celeba": "iml.data.celeba"}  # image datasets by config name
# audio source kinds (audio.datasets.<name>.source) -> "module:function" making a dataset's splits
AUDIO_SOURCES = {"fsdd": "iml.data.fsdd:fsdd_splits", "recordings": "iml.data.fsdd:recordings_splits",
                 "violin": "iml.data.violin:source_splits"}
SPLITS_INFO, SPLITS_ARRAYS = "splits.json", "splits.npz"


def dataset_module(name):
    return importlib.import_module(IMAGE_DATASETS[name])


def audio_source(kind):
    """The function making the splits of an audio source kind (AUDIO_SOURCES)."""
    if kind not in AUDIO_SOURCES:
        raise ValueError(f"no audio source kind {kind!r} (kinds: {', '.join(AUDIO_SOURCES)})")
    module, function = AUDIO_SOURCES[kind].split(":")
    return getattr(importlib.import_module(module), function)


def data_folder(data):
    """The dataset's folder, from the folder itself or its splits.json."""
    data = Path(data)
    return data.parent if data.name == SPLITS_INFO else data


def dataset_name(data):
    """The dataset a folder holds: data/<dataset>/."""
    return data_folder(data).name


def is_image_dataset(data):
    return dataset_name(data) in IMAGE_DATASETS


def split_info(data):
    """What the dataset's preprocessing recorded about its splits (splits.json)."""
    from iml.io import load_json

    return load_json(data_folder(data) / SPLITS_INFO)


def has_split(data, name):
    """Whether the dataset has the split `name` (its splits.json's counts)."""
    return name in split_info(data).get("counts", {})


def _arrays(data, key, limit=None):
    """One array of splits.npz (the audio datasets' and MNIST's layout), read alone."""
    with np.load(data_folder(data) / SPLITS_ARRAYS) as arrays:
        return arrays[key][:limit]


def pixel_range(data):
    """The value range uint8 pixels stand for, as the dataset's splits.json records it (MNIST's
    [0, 1] where it records none)."""
    return tuple(split_info(data).get("pixel_range", dataset_module("mnist").PIXEL_RANGE))


def load_split(data, name, limit=None, raw=False):
    """A split's examples as flat float32 rows; uint8 images are scaled to the dataset's pixel
    range, or returned as uint8 when `raw` (the training loop scales them batch by batch)."""
    if is_image_dataset(data):
        x = dataset_module(dataset_name(data)).load_split(data_folder(data), name, limit)
    else:
        x = _arrays(data, f"x_{name}", limit)
    if x.dtype != np.uint8:
        return x.astype(np.float32)
    if raw:
        return x
    low, high = pixel_range(data)
    return x.astype(np.float32) * np.float32((high - low) / 255.0) + np.float32(low)


def load_labels(data, name):
    """A split's class labels (MNIST's digits)."""
    return _arrays(data, f"y_{name}")


def load_audio_split(data, name):
    """An audio dataset's split: its float32 chunks (recordings back to back, in order) and each
    recording's length in chunks."""
    if is_image_dataset(data):
        raise ValueError(f"{data_folder(data)}: {dataset_name(data)} is an image dataset, not an audio one")
    return load_split(data, name), _arrays(data, f"lengths_{name}")


def sequence_lengths(data, name):
    """The lengths (in rows) of the sequences a split's rows form: an audio dataset's recordings;
    None for an image dataset, whose rows stand alone."""
    return None if is_image_dataset(data) else _arrays(data, f"lengths_{name}")


def display_images(x, dataset):
    """Generated or loaded rows of the image dataset `dataset` (its name, folder or splits.json) as
    images in [0, 1]."""
    name, x = dataset_name(dataset), np.asarray(x)
    if name not in IMAGE_DATASETS:
        raise ValueError(f"{name}: not an image dataset (image datasets: {', '.join(IMAGE_DATASETS)})")
    module = dataset_module(name)
    if x.ndim != 2 or x.shape[1] != module.DATA_DIM:
        raise ValueError(f"{name} rows have length {module.DATA_DIM}, not shape {x.shape}")
    return module.display_images(x)


def load_audio_splits(data):
    """An audio dataset's training and test splits as one mapping: x_<split> (float32 chunks,
    recordings back to back) and lengths_<split> (each recording's length in chunks)."""
    arrays = {}
    for split in ("train", "test"):
        arrays[f"x_{split}"], arrays[f"lengths_{split}"] = load_audio_split(data, split)
    return arrays
