"""A normalizing flow on the codes (zuko): a masked autoregressive flow (affine, "maf") or a neural
spline flow ("nsf"), trained by maximum likelihood with Adam and early stopping on validation codes.

The flow models standardised codes z = (h - mean) / std, so
log p(h) = log q(z) - Σ_d log std_d  (the standardisation's Jacobian)."""

import copy
import logging
import time
from typing import Literal

import numpy as np
import torch
import zuko

from iml.bases.base import BaseDistribution, check_codes, standardisation, training_and_validation
from iml.device import pick_device

log = logging.getLogger(__name__)

FLOWS = {"maf": zuko.flows.MAF, "nsf": zuko.flows.NSF}
SCORE_BATCH = 8192  # rows per forward pass when scoring (memory, not results)
STATE_PREFIX = "state."  # storage: the flow's state_dict entries, under this prefix


class FlowBase(BaseDistribution):
    """Settings: flow ("maf" or "nsf"), transforms (autoregressive layers; their variable order
    alternates), hidden_features (each layer's MADE widths), epochs (at most), batch_size, lr,
    weight_decay (Adam), patience (epochs without a better validation log-likelihood before
    stopping; the best epoch's weights are kept), device ("auto": CUDA when present), random_state
    (weight initialisation, batch order, held-out codes and samples).

    fit(codes, validation=None) trains on `codes` and stops on `validation` (else on a seeded 10%
    of the codes, held out of training). Fitted: flow, code_mean_, code_std_, best_epoch_,
    history_ (epochs x [training, validation] mean log-likelihood of standardised codes).

    The defaults (3 transforms of 128-128 MADEs, at most 30 epochs of batches of 512) keep a fit on
    55000 x 100 codes to minutes on two CPU cores (benchmarks/bases_benchmark.py); on a GPU raise
    epochs and let patience stop it."""

    def __init__(self, flow: Literal["maf", "nsf"] = "maf", transforms: int = 3,
                 hidden_features: tuple[int, ...] = (128, 128), epochs: int = 30, batch_size: int = 512,
                 lr: float = 1e-3, weight_decay: float = 0.0, patience: int = 5,
                 device: str = "auto", random_state: int = 0):
        if flow not in FLOWS:
            raise ValueError(f"flow base: flow must be one of {sorted(FLOWS)}, got {flow!r}")
        if min(transforms, epochs, batch_size, patience, *hidden_features) < 1:
            raise ValueError("flow base: transforms, hidden_features, epochs, batch_size and patience must be >= 1")
        self.flow_kind, self.transforms, self.hidden_features = flow, transforms, [int(h) for h in hidden_features]
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.patience, self.device, self.random_state = patience, device, random_state
        self.rng = np.random.default_rng(random_state)

    def _build(self, dim):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)  # the initial weights
            return FLOWS[self.flow_kind](dim, transforms=self.transforms, hidden_features=self.hidden_features)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, codes, lengths=None, validation=None):
        codes = check_codes(codes, "codes given to the flow fit")
        train, held_out = training_and_validation(codes, validation, self.rng, "flow base")
        if len(train) < 2:
            raise ValueError(f"flow base: needs at least 2 training codes, got {len(train)}")
        self.code_mean_, self.code_std_ = standardisation(train, "flow base: training codes")
        device = pick_device(self.device)
        self.flow = self._build(codes.shape[1]).to(device)
        x_train, x_val = (torch.as_tensor(self._standardise(c), dtype=torch.float32, device=device)
                          for c in (train, held_out))
        self._train(x_train, x_val)
        self.flow.cpu().eval()
        return self

    def _train(self, x_train, x_val):
        optimiser = torch.optim.Adam(self.flow.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        best, best_state, history, started = -np.inf, None, [], time.perf_counter()
        for epoch in range(self.epochs):
            self.flow.train()
            losses = []
            for rows in torch.randperm(len(x_train), generator=generator).split(self.batch_size):
                loss = -self.flow().log_prob(x_train[rows.to(x_train.device)]).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item() * len(rows))
            self.flow.eval()
            val = float(self._log_prob(x_val).mean())
            history.append([-sum(losses) / len(x_train), val])
            if not np.isfinite(val):
                raise FloatingPointError(f"flow base: validation log-likelihood is {val} at epoch {epoch + 1}; lower lr")
            if val > best:
                best, best_state, self.best_epoch_ = val, copy.deepcopy(self.flow.state_dict()), epoch + 1
            log.info("flow epoch %d: training %.4f, validation %.4f (standardised codes)", epoch + 1, *history[-1])
            if epoch + 1 - self.best_epoch_ >= self.patience:
                break
        self.flow.load_state_dict(best_state)
        self.history_ = np.array(history)
        if self.best_epoch_ == self.epochs:  # stopped by the cap, not by the validation codes
            log.warning("flow base: kept its last epoch (%d), still improving on the validation codes: raise epochs",
                        self.epochs)
        log.info("flow base: %d epochs in %.1f s, kept epoch %d (validation %.4f per standardised code, "
                 "%.4f in code space)", len(history), time.perf_counter() - started, self.best_epoch_, best,
                 best - np.log(self.code_std_).sum())

    # -- using the fit ------------------------------------------------------------------------

    def _standardise(self, codes):
        return (codes - self.code_mean_) / self.code_std_

    @torch.no_grad()
    def _log_prob(self, z):
        return torch.cat([self.flow().log_prob(part) for part in z.split(SCORE_BATCH)])

    def score_samples(self, codes):
        codes = check_codes(codes, "codes scored by the flow base")
        device = pick_device(self.device)
        self.flow.to(device)
        z = torch.as_tensor(self._standardise(codes), dtype=torch.float32, device=device)
        log_q = self._log_prob(z).double().cpu().numpy()
        self.flow.cpu()
        return log_q - np.log(self.code_std_).sum()

    @torch.no_grad()
    def sample(self, n):
        """n codes: base noise from the seeded generator pushed through the inverse flow."""
        dist = self.flow()
        noise = torch.as_tensor(self.rng.standard_normal((n, len(self.code_mean_))), dtype=torch.float32)
        z = dist.transform.inv(dist.base.mean + dist.base.stddev * noise)
        return z.double().numpy() * self.code_std_ + self.code_mean_, None

    # -- storage ------------------------------------------------------------------------------

    def fitted_summary(self):
        return {"best_epoch": self.best_epoch_, "epochs_run": len(self.history_)}

    def settings(self):
        return {"flow": self.flow_kind, "transforms": self.transforms, "hidden_features": self.hidden_features,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "patience": self.patience, "device": self.device,
                "random_state": self.random_state}

    def fitted_arrays(self):
        state = {STATE_PREFIX + k: v.cpu().numpy() for k, v in self.flow.state_dict().items()}
        return {**state, "code_mean_": self.code_mean_, "code_std_": self.code_std_,
                "best_epoch_": np.array(self.best_epoch_), "history_": self.history_}

    def set_fitted(self, arrays):
        self.code_mean_, self.code_std_ = arrays["code_mean_"], arrays["code_std_"]
        self.best_epoch_, self.history_ = int(arrays["best_epoch_"]), arrays["history_"]
        self.flow = self._build(len(self.code_mean_))
        state = {k[len(STATE_PREFIX):]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith(STATE_PREFIX)}
        self.flow.load_state_dict(state)
        self.flow.eval()
        return self
