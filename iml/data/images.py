"""How images are laid out for the models: FLAT vectors, one row per image.

Grey images (MNIST) are row-major (N, H * W). RGB images (CELEB-A) are channels-first: index
c * S * S + y * S + x, so (N, 3 * 64 * 64 = 12288) rows. The shared training loop, the KDE and the
sampling code work on these rows unchanged. `from_image` turns (N, S, S, 3) images (what
iml.data.celeba writes, uint8 or float) into that layout and `to_image` back; both keep dtype and
scale (the training loop maps uint8 to [-1, 1] per batch with pixel_range=(-1, 1)); `to_uint8` maps
[-1, 1] vectors or images to uint8 pixels.
"""

import sys

import numpy as np

CHANNELS, SIZE = 3, 64
DATA_DIM = CHANNELS * SIZE * SIZE


def _is_tensor(x):
    """Whether `x` is a torch tensor, without importing torch (the workflow's parse time needs
    this module, not torch): a tensor exists only once torch has been imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def from_image(images):
    """(N, 64, 64, 3) images (numpy or torch, any dtype) -> (N, 12288) channels-first vectors,
    same dtype and scale."""
    if images.ndim != 4 or images.shape[3] != CHANNELS:
        raise ValueError(f"expected images of shape (N, H, W, 3), got {tuple(images.shape)}")
    if _is_tensor(images):
        return images.permute(0, 3, 1, 2).reshape(len(images), -1)
    return np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)).reshape(len(images), -1)


def to_image(x, size=SIZE):
    """(N, 3 * size * size) channels-first vectors -> (N, size, size, 3) images, same dtype and scale."""
    if x.ndim != 2 or x.shape[1] != CHANNELS * size * size:
        raise ValueError(f"expected vectors of shape (N, {CHANNELS * size * size}), got {tuple(x.shape)}")
    if _is_tensor(x):
        return x.reshape(len(x), CHANNELS, size, size).permute(0, 2, 3, 1)
    return np.asarray(x).reshape(len(x), CHANNELS, size, size).transpose(0, 2, 3, 1)


def to_uint8(x):
    """Pixels in [-1, 1] (numpy or torch, any shape) -> uint8 numpy, clipped."""
    if _is_tensor(x):
        x = x.detach().float().cpu().numpy()
    return np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8)
