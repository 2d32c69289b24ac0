"""The CELEB-A networks (Sec. 4.1): "the basic DC-GAN generator architecture for all
algorithms" (Radford et al. 2016, as in the PyTorch DCGAN example), latent K = 100, width d.

Generator / decoder, 1x1 -> 4 -> 8 -> 16 -> 32 -> 64:
    ConvT(K, 8d, 4, 1, 0) BN ReLU, ConvT(8d, 4d, 4, 2, 1) BN ReLU, ConvT(4d, 2d) BN ReLU,
    ConvT(2d, d) BN ReLU, ConvT(d, 3, 4, 2, 1), tanh.
Encoder (the 5-layer mirror), 64 -> 32 -> 16 -> 8 -> 4 -> 1:
    Conv(3, d, 4, 2, 1) LeakyReLU(0.2), Conv(d, 2d) BN LReLU, Conv(2d, 4d) BN LReLU,
    Conv(4d, 8d) BN LReLU, Conv(8d, K, 4, 1, 0).
    IML: the code passes through a ReLU (the paper: codes go through a ReLU for every
    algorithm but the VAE). VAE: two such last layers, the posterior mean and log-variance,
    without ReLU (an N(0, I) prior needs negative values).
Discriminator / critic: the DCGAN discriminator, i.e. the encoder's trunk with LeakyReLU(0.2)
    and BatchNorm on the middle layers, ending in Conv(8d, 1, 4, 1, 0): one logit (GAN; the
    loss takes logits, so no sigmoid layer) or one score (WGAN, no sigmoid). With the WGAN-GP
    gradient penalty BatchNorm is wrong (it couples the examples of a batch, while the penalty
    constrains each example's own gradient), so the critic then uses layer normalisation
    (GroupNorm with one group: mean and variance over each example's C x H x W, as the WGAN-GP
    paper recommends); with weight clipping it keeps BatchNorm, as the WGAN authors' DCGAN critic.
Weights: the DCGAN initialisation, N(0, 0.02) for convolutions, N(1, 0.02) for norm scales.

Data layout: every model takes and returns FLAT vectors (N, 3 * 64 * 64 = 12288) with pixels
in [-1, 1], channels-first (iml.data.images says how, and converts).

`amp=True` (autoencoder and VAE) runs the forward pass under torch.autocast in bfloat16 on
CUDA (no loss scaling needed for bf16); on the CPU it is ignored.
"""

import math
from typing import Literal, Optional

import torch
from torch import nn
from torch.nn import functional as F

from iml.data.images import CHANNELS, DATA_DIM, SIZE
from iml.models.common import SingleLossModel
from iml.models.gan import GAN, WGAN


def _check_dims(latent_dim, data_dim, width):
    if data_dim != DATA_DIM:
        raise ValueError(f"the DCGAN networks take 64x64 RGB images: data_dim must be {DATA_DIM}, got {data_dim}")
    if latent_dim < 1 or width < 1:
        raise ValueError(f"latent_dim and width must be positive, got {latent_dim} and {width}")


# ---------------------------------------------------------------- networks


def dcgan_init(module):
    """The DCGAN initialisation: N(0, 0.02) convolutions, N(1, 0.02) norm scales, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def generator(latent_dim, width):
    """(N, K) -> (N, 12288) in [-1, 1]."""
    d = width
    layers = [nn.Unflatten(1, (latent_dim, 1, 1))]
    for c_in, c_out, stride, pad in [(latent_dim, 8 * d, 1, 0), (8 * d, 4 * d, 2, 1), (4 * d, 2 * d, 2, 1),
                                     (2 * d, d, 2, 1)]:
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(d, CHANNELS, 4, 2, 1, bias=False), nn.Tanh(), nn.Flatten()]
    return nn.Sequential(*layers)


def _norm(kind, channels):
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'layer' or 'none', got {kind!r}")


def trunk(width, norm="batch"):
    """(N, 12288) -> (N, 8d, 4, 4): the four strided convolutions shared by encoder and critic."""
    d = width
    layers = [nn.Unflatten(1, (CHANNELS, SIZE, SIZE)), nn.Conv2d(CHANNELS, d, 4, 2, 1, bias=False),
              nn.LeakyReLU(0.2, True)]
    for c_in, c_out in [(d, 2 * d), (2 * d, 4 * d), (4 * d, 8 * d)]:
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), _norm(norm, c_out), nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*layers)


def head(width, out):
    """(N, 8d, 4, 4) -> (N, out)."""
    return nn.Sequential(nn.Conv2d(8 * width, out, 4, 1, 0, bias=False), nn.Flatten())


def critic(width, norm="batch"):
    """(N, 12288) -> (N, 1): the DCGAN discriminator's logit, or the WGAN critic's score."""
    return nn.Sequential(trunk(width, norm), head(width, 1))


# ---------------------------------------------------------------- models


class DCGANAutoencoder(SingleLossModel):
    """IML on CELEB-A: the DCGAN encoder (codes through a ReLU) and generator, trained by
    mean squared reconstruction error; a base distribution is then fitted on the codes."""

    def __init__(self, latent_dim=100, data_dim=DATA_DIM, width: int = 128, amp: bool = False):
        super().__init__()
        _check_dims(latent_dim, data_dim, width)
        self.latent_dim, self.data_dim, self.width, self.amp = latent_dim, data_dim, width, amp
        self.encoder = nn.Sequential(trunk(width), head(width, latent_dim), nn.ReLU())
        self.decoder = generator(latent_dim, width)
        self.apply(dcgan_init)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)

    def reconstruct(self, x):
        return self.decode(self.encode(x))

    def training_loss(self, x):
        return F.mse_loss(self.reconstruct(x).float(), x)


class DCGANVAE(SingleLossModel):
    """The VAE on CELEB-A: the DCGAN encoder with two heads (posterior mean and log-variance,
    no ReLU), an N(0, I) prior, the DCGAN generator as the decoder mean.

    Likelihood: pixels in [-1, 1] are not Bernoulli, so p(x | z) = N(x; decoder(z), s^2 I) with
    a fixed s = likelihood_std. The loss is the exact negative ELBO per image in nats,
    ||x - mean||^2 / (2 s^2) + (D / 2) log(2 pi s^2) + KL. The default s^2 = 1/2 makes the data
    term the summed squared error (the usual "MSE-summed" DCGAN-VAE; its weight against the KL
    is close to the pytorch-example's Bernoulli VAE in [0, 1]); a smaller s sharpens
    reconstructions at the cost of a looser match of the codes to the prior."""

    def __init__(self, latent_dim=100, data_dim=DATA_DIM, width: int = 128, likelihood_std: float = math.sqrt(0.5),
                 amp: bool = False):
        super().__init__()
        _check_dims(latent_dim, data_dim, width)
        if not likelihood_std > 0:
            raise ValueError(f"likelihood_std must be positive, got {likelihood_std}")
        self.latent_dim, self.data_dim, self.width, self.amp = latent_dim, data_dim, width, amp
        self.likelihood_std = float(likelihood_std)
        self.encoder = trunk(width)
        self.mean_head = head(width, latent_dim)
        self.log_var_head = head(width, latent_dim)
        self.decoder = generator(latent_dim, width)
        self.apply(dcgan_init)

    def posterior(self, x):
        hidden = self.encoder(x)
        return self.mean_head(hidden), self.log_var_head(hidden)

    def encode(self, x):
        """The posterior mean (no ReLU): the code a base distribution would be fitted on."""
        return self.posterior(x)[0]

    def decode(self, h):
        return self.decoder(h)

    def training_loss(self, x):
        mean, log_var = (t.float() for t in self.posterior(x))
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        variance = self.likelihood_std**2
        squared = (self.decoder(z).float() - x).pow(2).sum()
        reconstruction = squared / (2 * variance) + len(x) * 0.5 * x.shape[1] * math.log(2 * math.pi * variance)
        kl = -0.5 * torch.sum(1 + log_var - mean**2 - log_var.exp())
        return (reconstruction + kl) / len(x)


class DCGANGAN(GAN):
    """The GAN on CELEB-A: GAN's training step (non-saturating loss on logits) with the DCGAN
    generator and discriminator; an N(0, I) base."""

    def __init__(self, latent_dim=100, data_dim=DATA_DIM, width: int = 128):
        nn.Module.__init__(self)  # GAN.__init__ would build its MLPs
        _check_dims(latent_dim, data_dim, width)
        self.latent_dim, self.data_dim, self.width = latent_dim, data_dim, width
        self.generator = generator(latent_dim, width)
        self.critic = critic(width, "batch")
        self.apply(dcgan_init)


class DCGANWGAN(WGAN):
    """The WGAN on CELEB-A: WGAN's training step (n_critic critic steps per generator step,
    weight clipping, or the gradient penalty when gradient_penalty > 0) with the DCGAN
    generator and critic (BatchNorm with clipping; layer norm with the penalty, see the
    module docstring; `critic_norm` overrides). optimizer and the critic schedule as in WGAN."""

    def __init__(self, latent_dim=100, data_dim=DATA_DIM, width: int = 128, clip: float = 0.01, n_critic: int = 5,
                 gradient_penalty: float = 0.0, critic_norm: Optional[Literal["batch", "layer", "none"]] = None,
                 optimizer: Literal["adam", "rmsprop"] = "adam", n_critic_warmup: Optional[int] = None,
                 warmup_generator_steps: int = 25, warmup_every: int = 500):
        nn.Module.__init__(self)  # WGAN.__init__ would build its MLPs
        _check_dims(latent_dim, data_dim, width)
        self.latent_dim, self.data_dim, self.width = latent_dim, data_dim, width
        self._set_schedule(clip, n_critic, gradient_penalty, optimizer, n_critic_warmup, warmup_generator_steps,
                           warmup_every)
        self.critic_norm = critic_norm or ("layer" if gradient_penalty > 0 else "batch")
        if gradient_penalty > 0 and self.critic_norm == "batch":
            raise ValueError("the gradient penalty needs a critic without BatchNorm (critic_norm 'layer' or 'none')")
        self.generator = generator(latent_dim, width)
        self.critic = critic(width, self.critic_norm)
        self.apply(dcgan_init)
