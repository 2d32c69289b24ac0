"""The torch device a step, a base or a metric runs on."""

import torch


def pick_device(preference="auto"):
    """CUDA when present (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)
