"""The paper's invertible perceptron (Sec. 4.1): h (K) -> Linear -> tanh_invt -> Linear -> sigmoid_invt -> x.

The encoder is the decoder's exact inverse on the decoder's range: inverse nonlinearities and
the pseudo-inverse of each linear layer, sharing the decoder's weights.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from iml.models.common import SingleLossModel


class LinearTailActivation:
    """A monotone activation used as-is on [t_lo, t_hi] and continued linearly outside.

    The tails' slopes equal the activation's derivative at the thresholds, so the function is
    continuous with a continuous first derivative, and invertible on the whole real line.
    """

    def __init__(self, f, f_inv, log_df, t_lo, t_hi):
        self.f, self.f_inv, self.log_df = f, f_inv, log_df
        self.t_lo, self.t_hi = t_lo, t_hi
        lo, hi = torch.tensor([t_lo, t_hi], dtype=torch.float64)
        self.y_lo, self.y_hi = float(f(lo)), float(f(hi))
        self.log_c_lo, self.log_c_hi = float(log_df(lo)), float(log_df(hi))
        self.c_lo, self.c_hi = math.exp(self.log_c_lo), math.exp(self.log_c_hi)

    def __call__(self, t):
        core = self.f(t.clamp(self.t_lo, self.t_hi))
        low = self.y_lo + self.c_lo * (t - self.t_lo)
        high = self.y_hi + self.c_hi * (t - self.t_hi)
        return torch.where(t < self.t_lo, low, torch.where(t > self.t_hi, high, core))

    def inverse(self, y):
        core = self.f_inv(y.clamp(self.y_lo, self.y_hi))
        low = self.t_lo + (y - self.y_lo) / self.c_lo
        high = self.t_hi + (y - self.y_hi) / self.c_hi
        return torch.where(y < self.y_lo, low, torch.where(y > self.y_hi, high, core))

    def log_derivative(self, t):
        """log f'(t), elementwise."""
        core = self.log_df(t.clamp(self.t_lo, self.t_hi))
        return torch.where(
            t < self.t_lo,
            torch.full_like(t, self.log_c_lo),
            torch.where(t > self.t_hi, torch.full_like(t, self.log_c_hi), core),
        )


def tanh_invt(bound=0.99):
    """tanh up to |y| = bound, then linear with slope 1 - bound² (the authors' choice)."""
    t = math.atanh(bound)
    return LinearTailActivation(
        torch.tanh, torch.atanh, lambda x: torch.log1p(-torch.tanh(x) ** 2), -t, t
    )


def sigmoid_invt(eps=1e-4):
    """The logistic sigmoid inside [eps, 1 - eps], then linear with slope σ' there."""
    t = math.log(eps / (1 - eps))
    return LinearTailActivation(
        torch.sigmoid, torch.logit, lambda x: F.logsigmoid(x) + F.logsigmoid(-x), t, -t
    )


def linear_pseudo_inverse(layer, y):
    """(WᵀW)^-1 Wᵀ (y - b) for a batch of rows y, through a Cholesky factor of WᵀW."""
    w = layer.weight  # (out, in)
    chol = torch.linalg.cholesky(w.T @ w)
    return torch.cholesky_solve(((y - layer.bias) @ w).T, chol).T


def half_log_det_gram(layer):
    """½ log det(WᵀW): the volume change of the rectangular linear map."""
    w = layer.weight
    return torch.linalg.cholesky(w.T @ w).diagonal().log().sum()


class InvertiblePerceptron(SingleLossModel):
    def __init__(self, latent_dim, hidden: int = 600, data_dim=784, tanh_bound: float = 0.99, sigmoid_eps: float = 1e-4):
        super().__init__()
        if not latent_dim <= hidden <= data_dim:
            raise ValueError(f"need latent_dim <= hidden <= data_dim, got {latent_dim}, {hidden}, {data_dim}")
        self.latent_dim, self.data_dim = latent_dim, data_dim
        self.hidden_layer = nn.Linear(latent_dim, hidden)
        self.output_layer = nn.Linear(hidden, data_dim)
        self.act_hidden = tanh_invt(tanh_bound)
        self.act_output = sigmoid_invt(sigmoid_eps)

    def decode(self, h):
        return self.act_output(self.output_layer(self.act_hidden(self.hidden_layer(h))))

    forward = decode

    def _inverse_with_preactivations(self, x):
        y_out = self.act_output.inverse(x)
        z_hidden = self.act_hidden.inverse(linear_pseudo_inverse(self.output_layer, y_out))
        h = linear_pseudo_inverse(self.hidden_layer, z_hidden)
        return h, y_out, z_hidden

    def encode(self, x):
        return self._inverse_with_preactivations(x)[0]

    inverse = encode

    def reconstruct(self, x):
        return self.decode(self.encode(x))

    def log_volume(self, x, output_sigmoid=True):
        """log V(x) of Eq. 6 for each row of x, with every layer's term.

        Sum over layers of: the inverse nonlinearity's log |derivative| (-log f'(preactivation)),
        and -½ log det(WᵀW) for each linear layer's pseudo-inverse. The authors' code drops the
        output sigmoid's term (output_sigmoid=False); by default it is included. Exact when
        every layer is square.
        """
        h, y_out, z_hidden = self._inverse_with_preactivations(x)
        log_v = -self.act_hidden.log_derivative(z_hidden).sum(1)
        if output_sigmoid:
            log_v = log_v - self.act_output.log_derivative(y_out).sum(1)
        log_v = log_v - half_log_det_gram(self.output_layer) - half_log_det_gram(self.hidden_layer)
        return h, log_v

    def training_loss(self, x):
        return F.mse_loss(self.reconstruct(x), x)
