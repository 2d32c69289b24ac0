"""A Gaussian HMM base over each recording's sequence of codes (paper Sec. 3.3 and 4.2).

Diagonal-covariance emissions, fitted by EM with the sequence lengths (every recording is
its own chain, never one concatenated sequence). Codes are standardised first; the fitted
parameters live in that space and scores add back the standardisation's Jacobian.

Two E-step engines give the same EM (tests/test_hmm.py checks they agree):
  * "hmmlearn": the reference, hmmlearn's GaussianHMM (implementation="scaling");
  * "torch": a batched scaled forward-backward over all sequences at once, emissions and
    recursions as matrix products, on the GPU when there is one.
Both feed the same repair of the M-step's degenerate cases (see `repair`).
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans

from iml.bases.base import BaseDistribution, check_codes

log = logging.getLogger(__name__)

LOG_2PI = float(np.log(2 * np.pi))
KMEANS_SUBSET = 10_000      # frames k-means sees at initialisation
MAX_BATCH_FRAMES = 1 << 16  # frames per forward-backward batch: bounds memory at ~N x K floats
CPU_BLOCK_ROWS = 1024       # rows per block of vectorised work on a CPU
RANDOM_INIT_JITTER = 0.1    # spread (standardised units) of means started on repeated frames


@dataclass
class HMMParams:
    """HMM parameters over standardised codes, float64."""

    startprob: np.ndarray  # (K,)
    transmat: np.ndarray   # (K, K), rows sum to 1
    means: np.ndarray      # (K, D)
    variances: np.ndarray  # (K, D)


@dataclass
class SufficientStats:
    """Expected counts of one E-step, float64."""

    start: np.ndarray  # (K,) first-frame posteriors, summed over sequences
    trans: np.ndarray  # (K, K) expected transitions
    post: np.ndarray   # (K,) expected frames per state
    obs: np.ndarray    # (K, D) posterior-weighted sum of z
    obs2: np.ndarray   # (K, D) posterior-weighted sum of z²

    def __add__(self, other):
        return SufficientStats(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))


def sequence_lengths(lengths, n_frames):
    """Lengths as an int array that covers the codes exactly; None means one sequence."""
    if lengths is None:
        return np.array([n_frames], dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64).ravel()
    if len(lengths) == 0 or (lengths <= 0).any() or lengths.sum() != n_frames:
        raise ValueError(f"sequence lengths must be positive and sum to the {n_frames} codes; "
                         f"got {len(lengths)} lengths summing to {int(lengths.sum())}")
    return lengths


def free_parameters(n_states, dim):
    return (n_states - 1) + n_states * (n_states - 1) + 2 * n_states * dim


def maximise(stats):
    """The maximum-likelihood update from expected counts. As in hmmlearn, a state never
    visited gets 0/0 = NaN means and a state never left an all-zero/NaN transition row;
    `repair` deals with both."""
    with np.errstate(invalid="ignore", divide="ignore"):
        means = stats.obs / stats.post[:, None]
        return HMMParams(
            startprob=stats.start / stats.start.sum(),
            transmat=stats.trans / stats.trans.sum(1, keepdims=True),
            means=means,
            variances=stats.obs2 / stats.post[:, None] - means**2,
        )


def repair(new, previous, var_floor):
    """Make an M-step's parameters usable where plain EM breaks (hmmlearn issues 110, 169):
    states never visited keep their previous mean and variance (no NaN); states never left
    keep their previous transition row (instead of a zero-sum row); variances are floored
    at var_floor so no state collapses onto a few identical frames. None of this can lower
    the likelihood: unvisited states carry no weight in the EM objective, and the floor is
    the constrained maximum of each variance's objective. (startprob needs nothing: its
    counts sum to the number of sequences, so it cannot turn NaN as in hmmlearn #186.)"""
    visited = np.isfinite(new.means).all(1) & np.isfinite(new.variances).all(1)
    left = np.isfinite(new.transmat).all(1) & (new.transmat.sum(1) > 0)
    if not visited.all() or not left.all():
        log.debug("EM repair: %d states unvisited, %d never left", (~visited).sum(), (~left).sum())
    transmat = np.where(left[:, None], new.transmat, previous.transmat)
    return HMMParams(
        startprob=new.startprob,
        transmat=transmat / transmat.sum(1, keepdims=True),
        means=np.where(visited[:, None], new.means, previous.means),
        variances=np.maximum(np.where(visited[:, None], new.variances, previous.variances), var_floor),
    )


# ---------------------------------------------------------------------------------------------
# PyTorch engine


class PackedLayout:
    """Sequences in time-major packed order (as torch's PackedSequence): sorted longest first,
    so the sequences still running at step t are a prefix of the batch. That prefix length is
    the padding mask, and no work is spent on padded frames."""

    def __init__(self, lengths):
        order = np.argsort(-lengths, kind="stable")
        starts = (np.cumsum(lengths) - lengths)[order]
        ascending = np.sort(lengths)
        steps = np.arange(ascending[-1])
        self.batch_sizes = len(lengths) - np.searchsorted(ascending, steps, side="right")
        self.offsets = np.concatenate([[0], np.cumsum(self.batch_sizes)]).tolist()
        # packed row -> row of the (batch's) codes
        self.frame_index = np.concatenate([starts[:n] + t for t, n in enumerate(self.batch_sizes)])
        following = np.append(self.batch_sizes[1:], 0)
        # packed rows where a sequence ends, and for each row of steps >= 1 the row before it
        self.last_rows = np.concatenate([o + np.arange(m, n) for o, n, m in
                                         zip(self.offsets, self.batch_sizes, following)])
        self.previous_rows = np.concatenate([[]] + [o + np.arange(n) for o, n in
                                                    zip(self.offsets, self.batch_sizes[1:])]).astype(np.int64)


def split_batches(lengths, max_frames):
    """Consecutive groups of whole sequences of about max_frames frames: (first row, lengths)."""
    ends = np.cumsum(lengths)
    batches, first, start = [], 0, 0
    for i in range(len(lengths)):
        if ends[i] - start >= max_frames or i == len(lengths) - 1:
            batches.append((start, lengths[first:i + 1]))
            first, start = i + 1, ends[i]
    return batches


def emission_terms(means, variances):
    """Weights W and constants k such that log N(z; μ_k, diag v_k) = [z², z] @ W + k for every
    frame and state, one matrix product: -½ (z² @ (1/v)ᵀ - 2 z @ (μ/v)ᵀ + Σ μ²/v + Σ log v
    + D log 2π)."""
    precision = 1.0 / variances
    weights = -0.5 * torch.cat([precision, -2.0 * means * precision], 1).T
    const = -0.5 * ((means**2 * precision).sum(1) + torch.log(variances).sum(1) + means.shape[1] * LOG_2PI)
    return weights, const


class TorchEngine:
    """Batched scaled forward-backward over all sequences at once (PackedLayout), in the
    probability domain: alpha_t = (alpha_{t-1} @ A) * b_t / c_t, renormalised every step (the
    normalisers c_t are p(z_t | z_<t)), as matrix products over the batch; emissions b_t are
    divided by their per-frame maximum before exp, so no frame underflows. Emissions and the
    sufficient statistics are computed and summed in float64 (a variance is a difference of
    two large moments); the recursions in `dtype`: float32 halves their cost and, renormalised
    every step, costs ~1e-8 relative in the log-likelihood."""

    def __init__(self, Z, lengths, device="cpu", dtype="float64", max_batch_frames=MAX_BATCH_FRAMES,
                 block_rows=None):
        self.device, self.dtype = torch.device(device), getattr(torch, dtype)
        # on a CPU, blocks that fit the cache; a GPU wants the whole batch at once
        self.block_rows = block_rows or (CPU_BLOCK_ROWS if self.device.type == "cpu" else max_batch_frames)
        self.n_frames, self.dim = Z.shape
        self.batches = [self._pack(Z, first, lens)
                        for first, lens in split_batches(lengths, max_batch_frames)]

    def _pack(self, Z, first, lengths):
        layout = PackedLayout(lengths)
        rows = first + layout.frame_index
        z = torch.as_tensor(Z[rows], dtype=torch.float64, device=self.device)
        # [z², z, 1]: emissions and the moment statistics are then one matmul each
        features = torch.cat([z * z, z, torch.ones_like(z[:, :1])], 1)
        layout.last_rows, layout.previous_rows = (torch.as_tensor(r, device=self.device)
                                                  for r in (layout.last_rows, layout.previous_rows))
        return layout, rows, features

    def _tensors(self, params):
        as64 = lambda a: torch.as_tensor(a, dtype=torch.float64, device=self.device)
        return (as64(params.startprob).to(self.dtype), as64(params.transmat).to(self.dtype),
                *emission_terms(as64(params.means), as64(params.variances)))

    def frame_log_likelihood(self, params):
        """log p(z_t | z_<t) of every frame, in the codes' row order (float64)."""
        out = np.empty(self.n_frames)
        tensors = self._tensors(params)
        for batch in self.batches:
            frame_ll, _ = self._estep(batch, tensors, with_stats=False)
            out[batch[1]] = frame_ll.cpu().numpy()
        return out

    def em_step(self, params):
        """(total log-likelihood under params, their ML update before repair)."""
        tensors, total, stats = self._tensors(params), 0.0, None
        for batch in self.batches:
            frame_ll, batch_stats = self._estep(batch, tensors, with_stats=True)
            total += float(frame_ll.sum())
            stats = batch_stats if stats is None else stats + batch_stats
        return total, maximise(stats)

    def _estep(self, batch, tensors, with_stats):
        """Per-frame log p(z_t | z_<t) and, with_stats, the expected counts. Steps with many
        sequences are worked through one at a time, their temporaries in cache; the narrow
        tail of steps (all of a single long sequence) in blocks of rows, so that per-step
        overheads do not add up."""
        layout, _, features = batch
        startprob, transmat, weights, const = tensors
        narrow = next((t for t, n in enumerate(layout.batch_sizes) if n < self.block_rows // 8),
                      len(layout.batch_sizes))
        b, alpha, scale, frame_ll = self._forward(features, startprob, transmat, weights, const, layout,
                                                  narrow)
        if not with_stats:
            return frame_ll, None
        return frame_ll, self._backward(b, alpha, scale, features, transmat, layout, narrow)

    def _forward(self, features, startprob, transmat, weights, const, layout, narrow):
        """alpha_t = (alpha_{t-1} @ A) * b_t / c_t. Returns the scaled emissions b (divided by
        each frame's largest, so no frame underflows), alpha, c and log c_t + log peak_t,
        which is log p(z_t | z_<t)."""
        off, tiny = layout.offsets, torch.finfo(self.dtype).tiny
        b = torch.empty(off[-1], len(const), dtype=self.dtype, device=self.device)
        alpha = torch.empty_like(b)
        scale = torch.empty(len(b), 1, dtype=self.dtype, device=self.device)
        peak = torch.empty(len(b), dtype=torch.float64, device=self.device)
        for rows in self._blocks(off[narrow], len(b)):
            self._emissions(features, weights, const, rows, b, peak)
        for t, n in enumerate(layout.batch_sizes.tolist()):
            for now in self._blocks(off[t], off[t + 1]):
                if t < narrow:
                    self._emissions(features, weights, const, now, b, peak)
                a, c = alpha[now], scale[now]  # views: written in place
                if t == 0:
                    torch.mul(b[now], startprob, out=a)
                else:
                    shift = off[t - 1] - off[t]  # the same sequences' rows one step before
                    torch.mm(alpha[now.start + shift:now.stop + shift], transmat, out=a).mul_(b[now])
                torch.sum(a, 1, keepdim=True, out=c)
                a.div_(c.clamp_min_(tiny))  # clamp: an impossible frame gives zeros, not NaN
        return b, alpha, scale, torch.log(scale[:, 0].double()) + peak

    @staticmethod
    def _emissions(features, weights, const, rows, b, peak):
        """b[rows] = exp(log b - its row maximum), in (0, 1] with the frame's best state at 1,
        and peak[rows] = that maximum; log b in float64."""
        log_b = torch.addmm(const, features[rows, :-1], weights)
        top = log_b.amax(1, keepdim=True)
        torch.exp(log_b.sub_(top), out=b[rows])
        peak[rows] = top[:, 0]

    def _backward(self, b, alpha, scale, features, transmat, layout, narrow):
        """beta_{t-1} = w_t @ Aᵀ with w_t = b_t * beta_t / c_t, and beta = 1 at each sequence's
        last frame; and the expected counts: posteriors gamma = alpha * beta (the scaling makes
        each row sum to 1) with their moments, and xi summed over time, A * Σ_t alpha_{t-1}ᵀ w_t.
        Steps before `narrow` add theirs as they complete, their beta and w in buffers reused
        from step to step (so they stay in cache); the narrow tail keeps its rows for the
        blocks it is done in afterwards."""
        off, sizes = layout.offsets, layout.batch_sizes.tolist()
        first, tail = off[1], off[narrow]  # rows of steps >= 1, of the narrow tail
        counts = _Counts(len(transmat), self.dim, first, max(sizes[0], self.block_rows), self.device)
        beta_tail, w_tail = torch.empty_like(b[tail:]), torch.empty_like(b[tail:])
        beta_tail[layout.last_rows[layout.last_rows >= tail] - tail] = 1.0
        wide_rows = sizes[0] if narrow else 0
        beta_wide = [torch.empty_like(b[:wide_rows]) for _ in range(2)]  # steps t and t-1 in turn
        w_wide = torch.empty_like(b[:wide_rows])

        def beta_of(t):
            return beta_tail[off[t] - tail:off[t + 1] - tail] if t >= narrow else beta_wide[t % 2][:sizes[t]]

        if narrow == len(sizes):
            beta_of(len(sizes) - 1).fill_(1.0)  # every sequence still running ends at the last step
        for t in reversed(range(len(sizes))):
            now, beta = slice(off[t], off[t + 1]), beta_of(t)
            if t < narrow:
                counts.add_posteriors(alpha[now], beta, features[now], now.start)
            if t == 0:
                break
            w = w_tail[off[t] - tail:off[t + 1] - tail] if t >= narrow else w_wide[:sizes[t]]
            torch.mul(b[now], beta, out=w).div_(scale[now])
            beta_before = beta_of(t - 1)
            torch.mm(w, transmat.T, out=beta_before[:sizes[t]])
            if t - 1 < narrow:
                beta_before[sizes[t]:] = 1.0  # sequences whose last frame is t-1
            if t < narrow:
                counts.add_transitions(alpha[off[t - 1]:off[t - 1] + sizes[t]], w)
        for rows in self._blocks(tail, len(b)):
            counts.add_posteriors(alpha[rows], beta_tail[rows.start - tail:rows.stop - tail], features[rows],
                                  rows.start)
        for rows in self._blocks(max(tail, first), len(b)):
            before = layout.previous_rows[rows.start - first:rows.stop - first]
            counts.add_transitions(alpha[before], w_tail[rows.start - tail:rows.stop - tail])
        return counts.stats(transmat)

    def _blocks(self, begin, end):
        """Row slices of at most block_rows: big enough to vectorise, small enough for the cache."""
        return (slice(i, min(i + self.block_rows, end)) for i in range(begin, end, self.block_rows))


class _Counts:
    """Expected counts summed in float64 over blocks of packed rows."""

    def __init__(self, n_states, dim, first, max_rows, device):
        f64 = dict(dtype=torch.float64, device=device)
        self.first, self.dim = first, dim
        self.start, self.xi_sum = torch.zeros(n_states, **f64), torch.zeros(n_states, n_states, **f64)
        self.moments = torch.zeros(n_states, 2 * dim + 1, **f64)  # [Σ γ z², Σ γ z, Σ γ]
        self.gamma = torch.empty(max_rows, n_states, **f64)

    def add_posteriors(self, alpha, beta, features, first_row):
        """Rows first_row.. of the batch: their alpha, beta and features."""
        g = torch.mul(alpha, beta, out=self.gamma[:len(alpha)])  # cast to float64 as written
        self.moments.addmm_(g.T, features)
        if first_row < self.first:  # rows of step 0
            self.start += g[:self.first - first_row].sum(0)

    def add_transitions(self, alpha_before, w):
        self.xi_sum += (alpha_before.T @ w).double()

    def stats(self, transmat):
        numpy, d = (lambda x: x.cpu().numpy()), self.dim
        return SufficientStats(start=numpy(self.start), trans=numpy(transmat.double() * self.xi_sum),
                               post=numpy(self.moments[:, -1]), obs=numpy(self.moments[:, d:2 * d]),
                               obs2=numpy(self.moments[:, :d]))


# ---------------------------------------------------------------------------------------------
# hmmlearn engine


class HmmlearnEngine:
    """hmmlearn's GaussianHMM, one EM iteration per call, its priors set so that the update
    is plain maximum likelihood (startprob/transmat Dirichlet priors 1, means_weight 0,
    covars_prior 0 with covars_weight 1); min_covar only matters to hmmlearn's own
    initialisation, which is switched off (init_params="")."""

    def __init__(self, Z, lengths):
        self.Z, self.lengths = Z, lengths

    @staticmethod
    def model(params, n_iter=1):
        from hmmlearn.hmm import GaussianHMM

        m = GaussianHMM(len(params.startprob), covariance_type="diag", implementation="scaling",
                        n_iter=n_iter, tol=-np.inf, init_params="", params="stmc",
                        startprob_prior=1.0, transmat_prior=1.0, means_prior=0.0, means_weight=0.0,
                        covars_prior=0.0, covars_weight=1.0)
        m.startprob_, m.transmat_ = params.startprob, params.transmat
        m.means_, m.covars_ = params.means, params.variances
        return m

    def em_step(self, params):
        m = self.model(params)
        try:
            with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 for unvisited states
                m.fit(self.Z, self.lengths)
        except ValueError as err:  # its scaled forward pass does not rescale the emissions
            if "underflow" not in str(err):
                raise
            raise ValueError(f"hmmlearn: {err}; backend='torch' rescales each frame and does not") from err
        new = HMMParams(m.startprob_, m.transmat_, m.means_, np.diagonal(m.covars_, axis1=1, axis2=2).copy())
        return float(m.monitor_.history[-1]), new


# ---------------------------------------------------------------------------------------------
# the base


def resolve_device(device):
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


class GaussianHMMBase(BaseDistribution):
    """Gaussian HMM with diagonal covariances over code sequences.

    fit(codes, lengths) fits one chain per sequence (lengths default: one sequence).
    sample(n) -> (codes (n, D), states (n,)): ONE sequence of n frames, seeded by self.rng.
    score differs from the per-row scores of the exchangeable bases:
      * score(codes, lengths) -> per-sequence log-likelihoods log p(h_1..h_T), (len(lengths),);
      * score(codes) with no lengths -> per-frame conditional log-densities log p(h_t | h_<t)
        of the codes taken as one sequence, shape (n,); they sum to that sequence's
        log-likelihood, which keeps the shared "one log-density per row" interface;
      * score_frames(codes, lengths) -> those per-frame conditionals for any lengths.
    All are true log-densities of the codes (the standardisation's Jacobian included).

    Settings: n_states; n_iter and tol (EM stops after n_iter iterations or when the total
    log-likelihood gains less than tol, hmmlearn's rule); backend "torch" or "hmmlearn" (the
    E-step engine; the same EM); var_floor (on standardised codes); init "kmeans" (k-means on a
    seeded subset of frames) or "random" (random frames); device "auto" (CUDA when present),
    "cpu" or "cuda"; dtype of the torch recursions, "float32" or "float64"; seed.

    Degenerate cases (see `repair`): states never visited keep their previous parameters
    (they are not reinitialised); states never left keep their previous transition row;
    variances are floored at var_floor; fewer frames than free parameters is fitted with a
    WARNING. Scoring always uses the PyTorch forward pass in float64, whatever the backend.
    Fitted: params_ (HMMParams over standardised codes), code_mean_, code_std_,
    loglik_history_ (code space, before each update), converged_.
    """

    def __init__(self, n_states=300, n_iter=50, tol=1e-3, backend="torch", var_floor=1e-3,
                 init="kmeans", device="auto", dtype="float32", seed=0):
        if backend not in ("torch", "hmmlearn"):
            raise ValueError(f"HMM backend must be 'torch' or 'hmmlearn', got {backend!r}")
        if init not in ("kmeans", "random"):
            raise ValueError(f"HMM init must be 'kmeans' or 'random', got {init!r}")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"HMM dtype must be 'float32' or 'float64', got {dtype!r}")
        if n_states < 1 or n_iter < 1:
            raise ValueError(f"HMM needs n_states >= 1 and n_iter >= 1, got {n_states} and {n_iter}")
        self.n_states, self.n_iter, self.tol, self.backend = n_states, n_iter, tol, backend
        self.var_floor, self.init, self.device, self.dtype = var_floor, init, device, dtype
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, codes, lengths=None):
        codes = check_codes(codes, "codes given to the HMM fit")
        lengths = sequence_lengths(lengths, len(codes))
        self._warn_if_underdetermined(*codes.shape)
        self.code_mean_ = codes.mean(0)
        std = codes.std(0)
        self.code_std_ = np.where(std > 0, std, 1.0)  # a constant dimension stays as it is
        Z = self._standardise(codes)
        params = self.initial_params(Z)
        engine = (TorchEngine(Z, lengths, resolve_device(self.device), self.dtype)
                  if self.backend == "torch" else HmmlearnEngine(Z, lengths))
        self.params_, history = self.run_em(engine, params)
        self.loglik_history_ = np.array(history) - len(codes) * self._log_std_sum()
        self.converged_ = len(history) >= 2 and history[-1] - history[-2] < self.tol
        log.info("HMM (%s, %d states) fitted on %d sequences, %d frames of dimension %d: %d EM "
                 "iterations, mean log-likelihood per frame %.4f%s", self.backend, self.n_states,
                 len(lengths), len(codes), codes.shape[1], len(history),
                 self.loglik_history_[-1] / len(codes), "" if self.converged_ else " (not converged)")
        return self

    def run_em(self, engine, params):
        """EM from params until n_iter or a gain below tol; returns (params, log-likelihoods,
        each under the parameters before that iteration's update, standardised space)."""
        history = []
        for _ in range(self.n_iter):
            loglik, new = engine.em_step(params)
            params = repair(new, params, self.var_floor)
            history.append(loglik)
            if len(history) >= 2 and history[-1] - history[-2] < self.tol:
                break
        return params, history

    def initial_params(self, Z):
        """Uniform start and transition probabilities, unit variances (the standardised codes'
        own), means from k-means on a seeded subset of frames or at random frames."""
        K = self.n_states
        means = self._kmeans_means(Z) if self.init == "kmeans" else self._random_means(Z, K)
        return HMMParams(np.full(K, 1.0 / K), np.full((K, K), 1.0 / K), means, np.ones_like(means))

    def _kmeans_means(self, Z):
        subset = Z[self.rng.choice(len(Z), min(len(Z), KMEANS_SUBSET), replace=False)]
        k = min(self.n_states, len(subset))  # k-means needs a frame per cluster (hmmlearn #416)
        km = KMeans(k, n_init=1, random_state=int(self.rng.integers(2**31))).fit(subset)
        return np.concatenate([km.cluster_centers_, self._random_means(subset, self.n_states - k)])

    def _random_means(self, Z, k):
        picks = self.rng.choice(len(Z), k, replace=k > len(Z))
        return Z[picks] + RANDOM_INIT_JITTER * self.rng.standard_normal((k, Z.shape[1]))

    def _warn_if_underdetermined(self, n_frames, dim):
        free = free_parameters(self.n_states, dim)
        if n_frames < free:
            log.warning("HMM fit is underdetermined: %d frames (%d values) for %d states with %d free "
                        "parameters at dimension %d; expect unvisited states and a degenerate fit",
                        n_frames, n_frames * dim, self.n_states, free, dim)

    # -- using the fit ----------------------------------------------------------------------

    def sample(self, n):
        """One sequence of n frames: (codes (n, D), the state behind each frame (n,))."""
        p = self.params_
        u = self.rng.random(n)
        start_cdf, trans_cdf = np.cumsum(p.startprob), np.cumsum(p.transmat, 1)
        states = np.empty(n, dtype=np.int64)
        last = self.n_states - 1  # guards a cdf that ends a rounding error below 1
        for t in range(n):
            cdf = start_cdf if t == 0 else trans_cdf[states[t - 1]]
            states[t] = min(np.searchsorted(cdf, u[t] * cdf[-1], side="right"), last)
        z = p.means[states] + np.sqrt(p.variances[states]) * self.rng.standard_normal((n, p.means.shape[1]))
        return self._destandardise(z), states

    def score_frames(self, codes, lengths=None):
        """log p(h_t | h_<t) per frame (the chain restarts at each sequence), shape (n,)."""
        codes = check_codes(codes, "codes scored by the HMM")
        lengths = sequence_lengths(lengths, len(codes))
        engine = TorchEngine(self._standardise(codes), lengths, resolve_device(self.device), "float64")
        return engine.frame_log_likelihood(self.params_) - self._log_std_sum()

    def score(self, codes, lengths=None):
        """Per-sequence log-likelihoods with lengths; per-frame conditionals without (see class)."""
        frames = self.score_frames(codes, lengths)
        if lengths is None:
            return frames
        lengths = sequence_lengths(lengths, len(frames))
        return np.add.reduceat(frames, np.cumsum(lengths) - lengths)

    def _standardise(self, codes):
        return (codes - self.code_mean_) / self.code_std_

    def _destandardise(self, z):
        return z * self.code_std_ + self.code_mean_

    def _log_std_sum(self):
        """Σ log std: a code's log-density is its standardised code's minus this (the Jacobian)."""
        return float(np.log(self.code_std_).sum())

    # -- storage (iml.bases.save_base / load_base) -------------------------------------------

    def settings(self):
        return {"n_states": self.n_states, "n_iter": self.n_iter, "tol": self.tol, "backend": self.backend,
                "var_floor": self.var_floor, "init": self.init, "device": self.device, "dtype": self.dtype,
                "seed": self.seed}

    def fitted_arrays(self):
        return {**vars(self.params_), "code_mean": self.code_mean_, "code_std": self.code_std_,
                "loglik_history": self.loglik_history_, "converged": np.array(self.converged_)}

    def set_fitted(self, arrays):
        self.params_ = HMMParams(*(arrays[k] for k in ("startprob", "transmat", "means", "variances")))
        self.code_mean_, self.code_std_ = arrays["code_mean"], arrays["code_std"]
        self.loglik_history_, self.converged_ = arrays["loglik_history"], bool(arrays["converged"])
        return self
