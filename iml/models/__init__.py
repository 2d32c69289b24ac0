"""Generative algorithms by config name: each builds a network from (K, data_dim, settings).

A model offers decode(h); make_optimizers(train settings) and train_step(batch, optimizers)
for the shared training loop; and encode(x) where it has an encoder. What each can do is
declared here, in MODELS, and the workflow asks (spec, family_of) instead of reading names.
The registry imports no network code (nor torch) until a model is built: the Snakefile reads it
when it starts.
"""

import importlib
import pickle
from dataclasses import dataclass

from iml.io import atomic_path

FAMILIES = ("iml", "vae", "gan", "wgan")  # the paper's algorithms, in the order tables show them


@dataclass(frozen=True)
class ModelSpec:
    path: str  # "module:class" of the network
    family: str  # one of FAMILIES: the same algorithm at another dataset's network sizes
    exact_likelihood: bool  # an invertible decoder: the exact log-likelihood (Eq. 6) is computed
    encoder: bool  # encode(x) gives the codes a base is fitted on

    @property
    def builder(self):
        module, name = self.path.split(":")
        return getattr(importlib.import_module(module), name)

    @property
    def order(self):
        """Where the family stands in tables (FAMILIES' order)."""
        return FAMILIES.index(self.family)


MODELS = {  # MNIST, the paper's MLP sizes; audio; CELEB-A, DCGAN sizes
    "iml": ModelSpec("iml.models.invertible:InvertiblePerceptron", "iml", exact_likelihood=True, encoder=True),
    "vae": ModelSpec("iml.models.vae:VAE", "vae", exact_likelihood=False, encoder=True),
    "gan": ModelSpec("iml.models.gan:GAN", "gan", exact_likelihood=False, encoder=False),
    "wgan": ModelSpec("iml.models.gan:WGAN", "wgan", exact_likelihood=False, encoder=False),
    "iml_audio": ModelSpec("iml.models.audio:ConvAutoencoder", "iml", exact_likelihood=False, encoder=True),
    "iml_audio_upsample": ModelSpec("iml.models.audio:ConvAutoencoder", "iml", exact_likelihood=False, encoder=True),
    "iml_dcgan": ModelSpec("iml.models.dcgan:DCGANAutoencoder", "iml", exact_likelihood=False, encoder=True),
    "vae_dcgan": ModelSpec("iml.models.dcgan:DCGANVAE", "vae", exact_likelihood=False, encoder=True),
    "gan_dcgan": ModelSpec("iml.models.dcgan:DCGANGAN", "gan", exact_likelihood=False, encoder=False),
    "wgan_dcgan": ModelSpec("iml.models.dcgan:DCGANWGAN", "wgan", exact_likelihood=False, encoder=False),
}


def spec(algorithm, algorithms=None):
    """The ModelSpec of a config algorithm. A variant such as iml_allcodes (another base fit on a
    trained model) names its model in model_of; `algorithms` is the config's algorithms section."""
    model = (algorithms or {}).get(algorithm, {}).get("model_of", algorithm)
    try:
        return MODELS[model]
    except KeyError:
        raise ValueError(f"unknown algorithm {model!r}; known: {sorted(MODELS)}"
                         + ("" if algorithms else " (a variant needs the config's algorithms, for model_of)")) from None


def family_of(algorithms):
    """{algorithm: family} for every algorithm of the config's algorithms section."""
    return {a: spec(a, algorithms).family for a in algorithms}


def build_model(algorithm, latent_dim, data_dim, settings):
    return spec(algorithm).builder(latent_dim, data_dim=data_dim, **settings)


def save_model(path, model, algorithm, latent_dim, data_dim, settings):
    import torch

    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "algorithm": algorithm, "latent_dim": latent_dim,
                    "data_dim": data_dim, "settings": settings}, tmp)


def load_model(path, device="cpu"):
    import torch

    try:  # weights_only: a planted file cannot run code while it is read
        saved = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path}: not a model written by save_model ({err})") from err
    model = build_model(saved["algorithm"], saved["latent_dim"], saved["data_dim"], saved["settings"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval()
