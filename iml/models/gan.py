"""GAN and WGAN baselines: a generator with the IML decoder's sizes fed by a fixed N(0, I)
base, and an MLP discriminator / critic (784 -> 200 -> 1)."""

from typing import Literal, Optional

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

    def __init__(self, latent_dim, hidden: int = 600, data_dim=784, disc_hidden: int = 200):
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
    the WGAN-GP penalty instead), and the WGAN authors' critic schedule: n_critic critic steps
    per generator step, but n_critic_warmup (their 100) for the first warmup_generator_steps (25)
    generator steps and every warmup_every-th (500); no warm-up when n_critic_warmup is None.
    optimizer "rmsprop" is their default (with their lr 5e-5), "adam" the option.

    One critic step per training batch; as in the authors' loop, an epoch's end cuts the critic
    steps short and the generator steps (end_epoch). The counters are buffers, so a checkpoint
    resumes the schedule exactly.
    """

    def __init__(self, latent_dim, hidden: int = 600, data_dim=784, disc_hidden: int = 200, clip: float = 0.01,
                 n_critic: int = 5, gradient_penalty: float = 0.0, optimizer: Literal["adam", "rmsprop"] = "adam",
                 n_critic_warmup: Optional[int] = None, warmup_generator_steps: int = 25, warmup_every: int = 500):
        super().__init__(latent_dim, hidden, data_dim, disc_hidden)
        self._set_schedule(clip, n_critic, gradient_penalty, optimizer, n_critic_warmup, warmup_generator_steps,
                           warmup_every)

    def _set_schedule(self, clip, n_critic, gradient_penalty, optimizer, n_critic_warmup, warmup_generator_steps,
                      warmup_every):
        if optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {optimizer!r}")
        self.clip, self.n_critic, self.gradient_penalty, self.optimizer = clip, n_critic, gradient_penalty, optimizer
        self.n_critic_warmup = n_critic if n_critic_warmup is None else n_critic_warmup
        self.warmup_generator_steps = warmup_generator_steps
        self.warmup_every = warmup_every
        # checkpointed with the model: total critic steps, generator steps, critic steps since the last one
        for name in ("critic_steps", "generator_steps", "pending_critic_steps"):
            self.register_buffer(name, torch.zeros((), dtype=torch.long))

    def critic_steps_before(self, generator_step):
        """How many critic steps precede generator step number `generator_step` (from 0)."""
        warm = generator_step < self.warmup_generator_steps or (
            self.warmup_every > 0 and generator_step % self.warmup_every == 0)
        return self.n_critic_warmup if warm else self.n_critic

    def make_optimizers(self, settings):
        if self.optimizer == "adam":
            return super().make_optimizers(settings)
        return {"generator": torch.optim.RMSprop(self.generator.parameters(), lr=settings["lr"]),
                "critic": torch.optim.RMSprop(self.critic.parameters(), lr=settings["lr"])}

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
        self.pending_critic_steps += 1
        losses = {"critic": critic_loss.detach()}
        if int(self.pending_critic_steps) >= self.critic_steps_before(int(self.generator_steps)):
            losses["generator"] = self._generator_step(optimizers, len(batch), batch.device)
        return losses

    def _generator_step(self, optimizers, n, device):
        g_loss = -self.critic(self.generator(torch.randn(n, self.latent_dim, device=device))).mean()
        self._step(optimizers["generator"], g_loss)
        self.generator_steps += 1
        self.pending_critic_steps.zero_()
        return g_loss.detach()

    def end_epoch(self, optimizers, batch_size, device):
        """The authors' loop runs out of data at an epoch's end and steps the generator on the
        critic steps done so far (its loss is not in the epoch's means)."""
        if int(self.pending_critic_steps) > 0:
            self._generator_step(optimizers, batch_size, device)
