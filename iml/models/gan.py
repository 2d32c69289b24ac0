"""GAN and WGAN baselines: a generator with the IML decoder's sizes fed by a fixed N(0, I)
base, and an MLP discriminator / critic (784 -> 200 -> 1)."""

import torch
from torch import nn
from torch.nn import functional as F

from iml.models.common import adam


def _generator(latent_dim, hidden, data_dim):
    return nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, data_dim), nn.Sigmoid())


def _critic(data_dim, hidden):
    return nn.Sequential(nn.Linear(data_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))


class GAN(nn.Module):
    """The original GAN with the non-saturating generator loss."""

    def __init__(self, latent_dim, hidden=600, data_dim=784, disc_hidden=200):
        super().__init__()
        self.latent_dim, self.data_dim = latent_dim, data_dim
        self.generator = _generator(latent_dim, hidden, data_dim)
        self.critic = _critic(data_dim, disc_hidden)

    def decode(self, h):
        return self.generator(h)

    def make_optimizers(self, settings):
        return {"generator": adam(self.generator.parameters(), settings),
                "critic": adam(self.critic.parameters(), settings)}

    def _noise(self, batch):
        return torch.randn(len(batch), self.latent_dim, device=batch.device)

    @staticmethod
    def _step(optimizer, loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def train_step(self, batch, optimizers):
        fake = self.generator(self._noise(batch))
        # discriminator: real -> 1, fake -> 0 (logits, so log D = -softplus(-logit))
        d_loss = F.softplus(-self.critic(batch)).mean() + F.softplus(self.critic(fake.detach())).mean()
        self._step(optimizers["critic"], d_loss)
        g_loss = F.softplus(-self.critic(fake)).mean()  # -log D(G(z)): non-saturating
        self._step(optimizers["generator"], g_loss)
        return {"discriminator": d_loss.detach(), "generator": g_loss.detach()}


class WGAN(GAN):
    """Wasserstein GAN: a critic without sigmoid, weight clipping (or, when gradient_penalty > 0,
    the WGAN-GP penalty instead), n_critic critic steps per generator step."""

    def __init__(self, latent_dim, hidden=600, data_dim=784, disc_hidden=200, clip=0.01, n_critic=5,
                 gradient_penalty=0.0):
        super().__init__(latent_dim, hidden, data_dim, disc_hidden)
        self.clip, self.n_critic, self.gradient_penalty = clip, n_critic, gradient_penalty
        self.register_buffer("critic_steps", torch.zeros((), dtype=torch.long))  # checkpointed

    def _penalty(self, real, fake):
        mix = torch.rand(len(real), 1, device=real.device)
        x = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(x).sum(), x, create_graph=True)
        return ((grad.norm(dim=1) - 1) ** 2).mean()

    def train_step(self, batch, optimizers):
        fake = self.generator(self._noise(batch)).detach()
        critic_loss = self.critic(fake).mean() - self.critic(batch).mean()
        if self.gradient_penalty > 0:
            critic_loss = critic_loss + self.gradient_penalty * self._penalty(batch, fake)
        self._step(optimizers["critic"], critic_loss)
        if self.gradient_penalty == 0:
            with torch.no_grad():
                for p in self.critic.parameters():
                    p.clamp_(-self.clip, self.clip)
        self.critic_steps += 1
        losses = {"critic": critic_loss.detach()}
        if self.critic_steps % self.n_critic == 0:
            g_loss = -self.critic(self.generator(self._noise(batch))).mean()
            self._step(optimizers["generator"], g_loss)
            losses["generator"] = g_loss.detach()
        return losses
