"""The VAE baseline (Kingma & Welling): the same sizes as the IML network, an N(0, I) prior,
a Bernoulli likelihood on pixels in [0, 1]."""

import torch
from torch import nn
from torch.nn import functional as F

from iml.models.common import SingleLossModel


class VAE(SingleLossModel):
    def __init__(self, latent_dim, hidden: int = 600, data_dim=784):
        super().__init__()
        self.latent_dim, self.data_dim = latent_dim, data_dim
        self.encoder = nn.Sequential(nn.Linear(data_dim, hidden), nn.ReLU())
        self.mean_head = nn.Linear(hidden, latent_dim)
        self.log_var_head = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, data_dim))

    def posterior(self, x):
        hidden = self.encoder(x)
        return self.mean_head(hidden), self.log_var_head(hidden)

    def encode(self, x):
        """The posterior mean: the code a base distribution would be fitted on."""
        return self.posterior(x)[0]

    def decode(self, h):
        """Bernoulli means (pixel intensities), as in the usual VAE samples."""
        return torch.sigmoid(self.decoder(h))

    def training_loss(self, x):
        """The negative ELBO per example: reconstruction (BCE, summed over pixels) + KL to N(0, I)."""
        mean, log_var = self.posterior(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        reconstruction = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_var - mean**2 - log_var.exp())
        return (reconstruction + kl) / len(x)
