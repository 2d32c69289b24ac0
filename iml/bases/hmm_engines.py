"""The EM of the Gaussian HMM base (iml.bases.hmm), over standardised codes: its parameters and
expected counts, the M-step and its repair of degenerate cases, and two E-step engines that give the
same EM (tests/test_hmm.py checks they agree):
  * TorchEngine: a batched scaled forward-backward over all sequences at once, emissions and
    recursions as matrix products, on the GPU when there is one;
  * HmmlearnEngine: the reference, hmmlearn's GaussianHMM (implementation="scaling").
Each takes the codes and the chains' lengths; em_step(params) -> (log-likelihood under params,
their ML update before repair).
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch

log = logging.getLogger(__name__)

LOG_2PI = float(np.log(2 * np.pi))
MAX_BATCH_FRAMES = 1 << 16  # frames per forward-backward batch: bounds memory at ~N x K floats
CPU_BLOCK_ROWS = 1024       # rows per block of vectorised work on a CPU
# the smallest per-frame normaliser trusted in each dtype: below it, terms flushed to zero
# could matter at float32's precision, so the batch is redone in float64 (see TorchEngine._check)
SAFE_NORMALISER = {torch.float32: 1e-20, torch.float64: 1e-280}


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
    """The M-step's two 0/0 cases (hmmlearn's bug reports #110, #169), and nothing else: a state with
    no posterior mass (every entry of its mean NaN) keeps its previous mean and variance; a
    state never left (a transition row all NaN, or all 0 from hmmlearn) keeps its previous row. Variances
    are floored at var_floor so no state collapses onto a few identical frames. None of this
    can lower the likelihood: such states carry no weight in the EM objective, and the floor
    is the constrained maximum of each variance's objective. Any other non-finite value is
    left for `check_finite` to refuse."""
    unvisited = np.isnan(new.means).all(1)
    never_left = np.isnan(new.transmat).all(1) | (new.transmat == 0).all(1)  # torch 0/0, hmmlearn 0
    if unvisited.any() or never_left.any():
        log.debug("EM repair: %d states without posterior mass, %d never left", unvisited.sum(),
                  never_left.sum())
    return HMMParams(
        startprob=new.startprob,
        transmat=np.where(never_left[:, None], previous.transmat, new.transmat),
        means=np.where(unvisited[:, None], previous.means, new.means),
        variances=np.maximum(np.where(unvisited[:, None], previous.variances, new.variances), var_floor),
    )


class NonFiniteFitError(FloatingPointError):
    pass


def check_finite(iteration, loglik, params):
    """Refuse, by name, a non-finite log-likelihood or parameter of EM iteration `iteration`."""
    for name, value in [("log-likelihood", loglik), *vars(params).items()]:
        bad = ~np.isfinite(np.asarray(value))
        if bad.any():
            raise NonFiniteFitError(f"HMM EM iteration {iteration}: {name} is not finite "
                                    f"({int(bad.sum())} of {bad.size} values)")


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
        self.float64_batches = 0  # E-step batches redone in float64 (see _safe_estep)
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

    def _tensors(self, params, dtype):
        as64 = lambda a: torch.as_tensor(a, dtype=torch.float64, device=self.device)
        return (as64(params.startprob).to(dtype), as64(params.transmat).to(dtype),
                *emission_terms(as64(params.means), as64(params.variances)))

    def frame_log_likelihood(self, params):
        """log p(z_t | z_<t) of every frame, in the codes' row order (float64)."""
        out = np.empty(self.n_frames)
        for batch in self.batches:
            frame_ll, _ = self._safe_estep(batch, params, with_stats=False)
            out[batch[1]] = frame_ll.cpu().numpy()
        return out

    def em_step(self, params):
        """(total log-likelihood under params, their ML update before repair)."""
        total, stats = 0.0, None
        for batch in self.batches:
            frame_ll, batch_stats = self._safe_estep(batch, params, with_stats=True)
            total += float(frame_ll.sum())
            stats = batch_stats if stats is None else stats + batch_stats
        return total, maximise(stats)

    def _safe_estep(self, batch, params, with_stats):
        """The E-step in self.dtype; a batch whose normalisers fall where float32 loses
        precision (`_check`) is redone in float64, and counted in float64_batches."""
        dtypes = [self.dtype] + ([torch.float64] if self.dtype != torch.float64 else [])
        for dtype in dtypes:
            frame_ll, stats, normalisers = self._estep(batch, self._tensors(params, dtype), with_stats)
            problem = self._check(normalisers)
            if problem is None:
                return frame_ll, stats
            if dtype != torch.float64:
                self.float64_batches += 1
        raise FloatingPointError(f"HMM forward-backward in float64: {problem}; the codes are "
                                 "(numerically) impossible under the current parameters")

    @staticmethod
    def _check(normalisers):
        """None if every per-row normaliser (c_t; with stats also max u_t and g_t) is at least
        SAFE_NORMALISER of its dtype, which bounds the relative error from flushed tiny terms by
        ~n_states * tiny / SAFE_NORMALISER; else what fell short."""
        names = ("p(z_t | z_<t) / max_k b_t(k)", "max_k b_t(k) beta_t(k)", "sum_k alpha_t(k) beta_t(k)")
        for name, x in zip(names, normalisers):
            low = float(x.min())
            if not low >= SAFE_NORMALISER[x.dtype]:  # also catches NaN
                bad = int((x < SAFE_NORMALISER[x.dtype]).sum() + x.isnan().sum())
                return f"{bad} frames with {name} = {low:.3g} (below {SAFE_NORMALISER[x.dtype]:g} in {x.dtype})"
        return None

    def _estep(self, batch, tensors, with_stats):
        """Per-frame log p(z_t | z_<t), with_stats the expected counts, and the per-row
        normalisers that `_check` vets. Steps with many sequences are worked through one at a
        time, their temporaries in cache; the narrow tail of steps (all of a single long
        sequence) in blocks of rows, so that per-step overheads do not add up."""
        layout, _, features = batch
        startprob, transmat, weights, const = tensors
        narrow = next((t for t, n in enumerate(layout.batch_sizes) if n < self.block_rows // 8),
                      len(layout.batch_sizes))
        b, alpha, scale, frame_ll = self._forward(features, startprob, transmat, weights, const, layout,
                                                  narrow)
        if not with_stats:
            return frame_ll, None, (scale,)
        stats, normalisers = self._backward(b, alpha, scale, features, transmat, layout, narrow)
        return frame_ll, stats, normalisers

    def _forward(self, features, startprob, transmat, weights, const, layout, narrow):
        """alpha_t = (alpha_{t-1} @ A) * b_t / c_t. Returns the scaled emissions b (divided by
        each frame's largest, so no frame underflows), alpha, c and log c_t + log peak_t,
        which is log p(z_t | z_<t)."""
        off, tiny = layout.offsets, torch.finfo(transmat.dtype).tiny
        b = torch.empty(off[-1], len(const), dtype=transmat.dtype, device=self.device)
        alpha = torch.empty_like(b)
        scale = torch.empty(len(b), 1, dtype=transmat.dtype, device=self.device)
        peak = torch.empty(len(b), dtype=torch.float64, device=self.device)
        for rows in self._blocks(off[narrow], len(b)):
            self._emissions(features, weights, const, rows, b, peak)
        for t in range(len(layout.batch_sizes)):
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
                a.div_(c.clamp_min(tiny))  # an impossible frame: caught by `_check` before use
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
        """The backward pass and the expected counts. beta_{t-1} = u_t @ Aᵀ / max(u_t) with
        u_t = b_t * beta_t, and beta = 1 at each sequence's last frame: each step is
        renormalised by its own largest entry, so beta stays in (0, 1] (the textbook scaling
        by c_t keeps Σ alpha_t beta_t = 1 but lets single entries of beta grow past float32's
        range where alpha is tiny). With g_t = Σ_i alpha_t(i) beta_t(i), the posteriors are
        gamma_t = alpha_t * beta_t / g_t and xi summed over time is A * Σ_t alpha_{t-1}ᵀ w_t with
        w_t = u_t / (c_t g_t). Steps before `narrow` add theirs as they complete, their beta
        and w in buffers reused from step to step (so they stay in cache); the narrow tail keeps
        its rows for the blocks it is done in afterwards. Returns (counts, the per-row
        normalisers [c, max u, g] for `_check`)."""
        off, sizes = layout.offsets, layout.batch_sizes.tolist()
        first, tail = off[1], off[narrow]  # rows of steps >= 1, of the narrow tail
        tiny = torch.finfo(b.dtype).tiny
        counts = _Counts(len(transmat), self.dim, first, max(sizes[0], self.block_rows), self.device)
        beta_tail, w_tail = torch.empty_like(b[tail:]), torch.empty_like(b[tail:])
        beta_tail[layout.last_rows[layout.last_rows >= tail] - tail] = 1.0
        wide_rows = sizes[0] if narrow else 0
        beta_wide = [torch.empty_like(b[:wide_rows]) for _ in range(2)]  # steps t and t-1 in turn
        w_wide = torch.empty_like(b[:wide_rows])
        u_peak = torch.ones_like(scale)  # max_j u_t(j); rows of step 0 have no u
        norm = torch.empty_like(scale)   # g_t

        def beta_of(t):
            return beta_tail[off[t] - tail:off[t + 1] - tail] if t >= narrow else beta_wide[t % 2][:sizes[t]]

        if narrow == len(sizes):
            beta_of(len(sizes) - 1).fill_(1.0)  # every sequence still running ends at the last step
        for t in reversed(range(len(sizes))):
            now, beta = slice(off[t], off[t + 1]), beta_of(t)
            if t < narrow:
                g = counts.add_posteriors(alpha[now], beta, features[now], now.start, norm[now])
            if t == 0:
                break
            w = w_tail[off[t] - tail:off[t + 1] - tail] if t >= narrow else w_wide[:sizes[t]]
            u = torch.mul(b[now], beta, out=w)
            top = torch.amax(u, 1, keepdim=True, out=u_peak[now])
            beta_before = beta_of(t - 1)
            torch.mm(u, transmat.T, out=beta_before[:sizes[t]]).div_(top.clamp_min(tiny))
            if t - 1 < narrow:
                beta_before[sizes[t]:] = 1.0  # sequences whose last frame is t-1
            if t < narrow:
                counts.add_transitions(alpha[off[t - 1]:off[t - 1] + sizes[t]], w.div_(scale[now] * g))
        for rows in self._blocks(tail, len(b)):
            beta = beta_tail[rows.start - tail:rows.stop - tail]
            counts.add_posteriors(alpha[rows], beta, features[rows], rows.start, norm[rows])
            if rows.stop > first:  # w of the tail's rows of steps >= 1
                keep = slice(max(rows.start, first), rows.stop)
                w_tail[keep.start - tail:keep.stop - tail].div_(scale[keep] * norm[keep])
        for rows in self._blocks(max(tail, first), len(b)):
            before = layout.previous_rows[rows.start - first:rows.stop - first]
            counts.add_transitions(alpha[before], w_tail[rows.start - tail:rows.stop - tail])
        return counts.stats(transmat), (scale, u_peak, norm)

    def _blocks(self, begin, end):
        """Row slices of at most block_rows: big enough to vectorise, small enough for the cache."""
        return (slice(i, min(i + self.block_rows, end)) for i in range(begin, end, self.block_rows))


class _Counts:
    """Expected counts summed in float64 over blocks of packed rows."""

    def __init__(self, n_states, dim, first, max_rows, device):
        f64 = dict(dtype=torch.float64, device=device)
        self.first, self.dim = first, dim
        self.start, self.xi_sum = torch.zeros(n_states, **f64), torch.zeros(n_states, n_states, **f64)
        # [Σ γ z², Σ γ z, Σ γ] by state, stored transposed: features.T @ γ is the faster product
        self.moments = torch.zeros(2 * dim + 1, n_states, **f64)
        self.gamma = torch.empty(max_rows, n_states, **f64)

    def add_posteriors(self, alpha, beta, features, first_row, norm):
        """Rows first_row.. of the batch, from their alpha, beta and features: adds the
        posteriors alpha * beta / g and their moments; writes g = Σ_k alpha(k) beta(k) into
        norm and returns it."""
        g = torch.mul(alpha, beta, out=self.gamma[:len(alpha)])  # cast to float64 as written
        total = g.sum(1, keepdim=True)
        norm.copy_(total)
        self.moments.addmm_((features / total).T, g)  # dividing the narrower factor
        if first_row < self.first:  # rows of step 0
            k = self.first - first_row
            self.start += (g[:k] / total[:k]).sum(0)
        return norm

    def add_transitions(self, alpha_before, w):
        if w.dtype == torch.float64:
            self.xi_sum.addmm_(alpha_before.T, w)
        else:
            self.xi_sum += (alpha_before.T @ w).double()

    def stats(self, transmat):
        numpy, d = (lambda x: x.cpu().numpy()), self.dim
        moments = self.moments.T
        return SufficientStats(start=numpy(self.start), trans=numpy(transmat.double() * self.xi_sum),
                               post=numpy(moments[:, -1]), obs=numpy(moments[:, d:2 * d]),
                               obs2=numpy(moments[:, :d]))


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
