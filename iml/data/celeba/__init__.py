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

Output (`crop_faces`): {out_dir}/train.npy, validation.npy, test.npy (uint8, N x size x
size x 3, RGB, rows in file-name order), crops.csv, no_face.txt, skipped.txt, info.json.
Each split array is filled on disk through np.lib.format.open_memmap, so the images never sit
in memory; every file is written under a temporary name and renamed only after all of them
are complete (info.json last). `load_split_images` maps a split read-only.

Files: source.py (listing the zip or folder, the partition file, the split assignment),
crop.py (decode, detect, crop one image), faces.py (executors and the memory-mapped writer
for the whole set). This module is the dataset's interface: the workflow step `preprocess`, and
`load_split`, `PIXEL_RANGE`, `display_images` as every dataset offers them (iml.data).
"""

from pathlib import Path

import numpy as np

from iml.data import images
from iml.data.celeba.crop import CropSettings, cut_and_resize, decode_image
from iml.data.celeba.faces import crop_faces, load_split_images
from iml.data.celeba.source import (
    SPLITS,
    CelebAFormatError,
    CelebAMissingError,
    assign_splits,
    list_source,
    missing_partition_message,
    missing_source_message,
    read_partition,
    require_source,
)
from iml.io import save_json

__all__ = ["CelebAFormatError", "CelebAMissingError", "CropSettings", "SPLITS", "assign_splits", "crop_faces",
           "cut_and_resize", "decode_image", "list_source", "load_split_images", "missing_partition_message",
           "missing_source_message", "read_partition", "require_source", "preprocess", "load_split",
           "display_images", "PIXEL_RANGE", "DATA_DIM"]

PIXEL_RANGE = (-1.0, 1.0)  # what uint8 0..255 stand for: the DCGAN generators end in tanh
DATA_DIM = images.DATA_DIM


def preprocess(source, partition, settings, threads, seed, data_dir):
    """The workflow step: face crops at 64x64 into memory-mapped uint8 splits, and splits.json
    for the later steps."""
    info = crop_faces(source, partition, data_dir, size=images.SIZE, margin=settings["margin"], threads=threads,
                      seed=seed, split_sizes=settings["split_sizes"], on_no_face=settings["on_no_face"])
    save_json(Path(data_dir) / "splits.json", {
        "pool": "celeba", "pixel_range": list(PIXEL_RANGE), "counts": info["counts"],
        "description": (f"CELEB-A faces (Haar cascade, largest face, margin {settings['margin']}, 64x64 RGB "
                        f"in [-1, 1]), {info['split_method']}; {info['n_no_face']} without a detected face "
                        f"({info['on_no_face']}), {info['n_skipped']} unreadable files skipped"),
    })


def load_split(data_dir, name, limit=None):
    """A split's first `limit` images as flat uint8 rows (channels first, iml.data.images)."""
    return images.from_image(load_split_images(Path(data_dir) / f"{name}.npy")[:limit])


def display_images(x):
    """Flat rows in [-1, 1] -> (N, 64, 64, 3) images in [0, 1] for plotting."""
    return (images.to_image(np.asarray(x)) + 1) / 2
