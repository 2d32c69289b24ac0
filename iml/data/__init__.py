"""The datasets, one module each: where its files come from, how they are preprocessed,
how a split is loaded and how its samples are shown. An image dataset's module offers

    download(...), preprocess(...)     its workflow steps, called by its own scripts
    load_split(data_dir, name, limit)  a split's flat rows as stored (uint8 pixels)
    PIXEL_RANGE                        the values uint8 0..255 stand for
    DATA_DIM, display_images(x)        the row length; rows -> images in [0, 1] for plots

and is named in IMAGE_DATASETS. The other steps reach the data only through the functions below.
The audio datasets (fsdd.py, violin.py) store float chunks and their lengths in splits.npz.
"""

import importlib
from pathlib import Path

import numpy as np

IMAGE_DATASETS = {"mnist": "iml.data.mnist", "celeba": "iml.data.celeba"}  # image datasets by config name


def dataset_module(name):
    return importlib.import_module(IMAGE_DATASETS[name])


def module_at(data_dir):
    """The image dataset's module whose preprocessing wrote `data_dir`: CELEB-A writes one memory-mapped
    <split>.npy per split; MNIST (and the audio datasets) arrays in splits.npz."""
    return dataset_module("mnist") if (Path(data_dir) / "splits.npz").exists() else dataset_module("celeba")


def pixel_range(data_dir):
    """The value range uint8 pixels stand for, as the dataset's splits.json records it (MNIST's
    [0, 1] where it records none)."""
    from iml.io import load_json

    return tuple(load_json(Path(data_dir) / "splits.json").get("pixel_range", dataset_module("mnist").PIXEL_RANGE))


def load_split(data_dir, name, limit=None, raw=False):
    """A split's examples as flat float32 rows; uint8 images are scaled to the dataset's pixel
    range, or returned as uint8 when `raw` (the training loop scales them batch by batch)."""
    x = module_at(data_dir).load_split(data_dir, name, limit)
    if x.dtype != np.uint8:
        return x.astype(np.float32)
    if raw:
        return x
    low, high = pixel_range(data_dir)
    return x.astype(np.float32) * np.float32((high - low) / 255.0) + np.float32(low)


def display_images(x):
    """Generated or loaded rows as images in [0, 1], by the dataset whose rows are that long."""
    x = np.asarray(x)
    for name in IMAGE_DATASETS:
        if dataset_module(name).DATA_DIM == x.shape[1]:
            return dataset_module(name).display_images(x)
    raise ValueError(f"no image dataset has rows of length {x.shape[1]} (datasets: {', '.join(IMAGE_DATASETS)})")
