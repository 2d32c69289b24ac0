"""Generative algorithms by config name: each builds a network from (K, data_dim, settings)."""

import torch

from iml.io import atomic_path
from iml.models.invertible import InvertiblePerceptron


def _iml(latent_dim, data_dim, settings):
    return InvertiblePerceptron(latent_dim, hidden=settings["hidden"], data_dim=data_dim)


BUILDERS = {"iml": _iml}


def build_model(algorithm, latent_dim, data_dim, settings):
    try:
        builder = BUILDERS[algorithm]
    except KeyError:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {sorted(BUILDERS)}") from None
    return builder(latent_dim, data_dim, settings)


def save_model(path, model, algorithm, latent_dim, data_dim, settings):
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "algorithm": algorithm, "latent_dim": latent_dim,
                    "data_dim": data_dim, "settings": settings}, tmp)


def load_model(path, device="cpu"):
    saved = torch.load(path, map_location=device, weights_only=False)
    model = build_model(saved["algorithm"], saved["latent_dim"], saved["data_dim"], saved["settings"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval()
