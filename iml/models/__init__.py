"""Generative algorithms by config name: each builds a network from (K, data_dim, settings).

A model offers decode(h); make_optimizers(train settings) and train_step(batch, optimizers)
for the shared training loop; and encode(x) where it has an encoder.
"""

import pickle

import torch

from iml.io import atomic_path
from iml.models.audio import ConvAutoencoder
from iml.models.dcgan import DCGANGAN, DCGANVAE, DCGANWGAN, DCGANAutoencoder
from iml.models.gan import GAN, WGAN
from iml.models.invertible import InvertiblePerceptron
from iml.models.vae import VAE

BUILDERS = {
    "iml": InvertiblePerceptron, "vae": VAE, "gan": GAN, "wgan": WGAN,  # MNIST, the paper's MLP sizes
    "iml_audio": ConvAutoencoder,
    "iml_dcgan": DCGANAutoencoder, "vae_dcgan": DCGANVAE, "gan_dcgan": DCGANGAN, "wgan_dcgan": DCGANWGAN,
}


def build_model(algorithm, latent_dim, data_dim, settings):
    try:
        cls = BUILDERS[algorithm]
    except KeyError:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {sorted(BUILDERS)}") from None
    return cls(latent_dim, data_dim=data_dim, **settings)


def save_model(path, model, algorithm, latent_dim, data_dim, settings):
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "algorithm": algorithm, "latent_dim": latent_dim,
                    "data_dim": data_dim, "settings": settings}, tmp)


def load_model(path, device="cpu"):
    try:  # weights_only: a planted file cannot run code while it is read
        saved = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path}: not a model written by save_model ({err})") from err
    model = build_model(saved["algorithm"], saved["latent_dim"], saved["data_dim"], saved["settings"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval()
