"""Fig. 1: a 2-D mixture of two Gaussians and a linear invertible generator x = W h + b.

(The paper writes x = W h; the offset b lets the GAN place its mass anywhere, so that it can
collapse onto one mode as in the paper's panel (c). For the ML fit b is simply the data mean.)

(a) maximum likelihood with a fixed N(0, I) base (Eq. 7), (b) a GMM base fitted on W⁻¹x for the
same W, (c) a GAN with the same linear generator and an N(0, I) base.
"""

import numpy as np
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from torch import nn
from torch.nn import functional as F

from iml.bases import build_base

MEANS = np.array([[-2.5, -1.0], [2.5, 1.0]])
COVARIANCES = np.array([[[0.4, 0.25], [0.25, 0.4]], [[0.4, -0.25], [-0.25, 0.4]]])


def sample_mixture(n, rng):
    labels = rng.integers(0, 2, n)
    noise = rng.standard_normal((n, 2))
    x = MEANS[labels] + np.einsum("nij,nj->ni", np.linalg.cholesky(COVARIANCES)[labels], noise)
    return x, labels


def mixture_logpdf(x):
    parts = [multivariate_normal(m, c).logpdf(x) for m, c in zip(MEANS, COVARIANCES)]
    return logsumexp(parts, axis=0) + np.log(0.5)


def fit_fixed_base_ml(x, steps, lr, seed):
    """(W, b) maximising Σ log N(W⁻¹(x − b); 0, I) − N log|det W| (Eq. 7) by gradient ascent."""
    torch.manual_seed(seed)
    w = nn.Parameter(torch.eye(2, dtype=torch.float64) + 0.1 * torch.randn(2, 2, dtype=torch.float64))
    b = nn.Parameter(torch.zeros(2, dtype=torch.float64))
    data = torch.as_tensor(x)
    optimizer = torch.optim.Adam([w, b], lr=lr)
    for _ in range(steps):
        h = torch.linalg.solve(w, (data - b).T).T
        nll = 0.5 * (h**2).sum(1).mean() + torch.linalg.slogdet(w).logabsdet
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
    return w.detach().numpy(), b.detach().numpy()


def fit_linear_gan(x, steps, lr, seed, batch=128):
    """The same generator x = W h + b, h ~ N(0, I), trained as a GAN against an MLP discriminator."""
    torch.manual_seed(seed)
    generator = nn.Linear(2, 2).double()
    critic = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2),
                           nn.Linear(64, 1)).double()
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
    data = torch.as_tensor(x)
    for _ in range(steps):
        real = data[torch.randint(len(data), (batch,))]
        fake = generator(torch.randn(batch, 2, dtype=torch.float64))
        d_loss = F.softplus(-critic(real)).mean() + F.softplus(critic(fake.detach())).mean()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = F.softplus(-critic(fake)).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
    return generator.weight.detach().numpy(), generator.bias.detach().numpy()


def _panel(name, w, b, base, x_train, x_test, n):
    """Generated points, base samples and mapped data for one model, with its scores."""
    w_inv = np.linalg.inv(w)
    base_samples, _ = base.sample(n)
    generated = base_samples @ w.T + b
    log_det = np.linalg.slogdet(w)[1]
    return {
        "name": name, "W": w.tolist(), "b": b.tolist(), "generated": generated,
        "base_samples": base_samples, "mapped_data": (x_train - b) @ w_inv.T,
        # the model's own density of held-out data: p_base(W⁻¹(x − b)) / |det W|
        "test_log_likelihood": float((base.score_samples((x_test - b) @ w_inv.T) - log_det).mean()),
        # how plausible the model's samples are under the true mixture (low when a mode is missed)
        "samples_true_log_likelihood": float(mixture_logpdf(generated).mean()),
        "mode_fractions": [float(f) for f in np.bincount(
            np.argmin(((generated[:, None] - MEANS[None]) ** 2).sum(-1), 1), minlength=2) / n],
    }


def run(n_train, n_test, n_plot, ml_steps, gan_steps, lr, gan_lr, seed):
    rng = np.random.default_rng(seed)
    x_train, _ = sample_mixture(n_train, rng)
    x_test, _ = sample_mixture(n_test, rng)
    normal = build_base("standard_normal", {}, seed).fit(np.zeros((0, 2)))
    w_ml, b_ml = fit_fixed_base_ml(x_train, ml_steps, lr, seed)
    gmm = build_base("gmm", {"n_components": 2}, seed).fit((x_train - b_ml) @ np.linalg.inv(w_ml).T)
    w_gan, b_gan = fit_linear_gan(x_train, gan_steps, gan_lr, seed)
    gan_base = build_base("standard_normal", {}, seed + 1).fit(np.zeros((0, 2)))
    panels = [
        _panel("(a) fixed N(0, I) base, maximum likelihood", w_ml, b_ml, normal, x_train, x_test, n_plot),
        _panel("(b) GMM base learned on W⁻¹(x − b)", w_ml, b_ml, gmm, x_train, x_test, n_plot),
        _panel("(c) GAN, fixed N(0, I) base", w_gan, b_gan, gan_base, x_train, x_test, n_plot),
    ]
    reference = float(mixture_logpdf(x_test).mean())
    return x_train, panels, reference
