"""A Gaussian HMM base over each recording's sequence of codes (paper Sec. 3.3 and 4.2).

Diagonal-covariance emissions, fitted by EM on one of two training sequences (setting `sequence`):
  * "concatenated" (the paper's "concatenated set of digit utterances", the authors'
    `GaussianHMM.fit(codes)` without lengths): the recordings joined in a seeded order into one
    chain, so the chain learns the moves from the end of one utterance into the next; it has one
    start, so other codes are scored as the chain continues (from its stationary distribution);
  * "per_recording": every recording its own chain, restarting from the start probabilities;
    sampled utterance by utterance, each as long as a training recording drawn at random.
Codes are standardised first; the fitted parameters live in that space and scores add back the
standardisation's Jacobian.

The EM runs on one of two E-step engines (setting `backend`), in iml.bases.hmm_engines with the
M-step and its repair of degenerate cases: "torch" (batched, on the GPU when there is one) or
"hmmlearn" (the reference); they give the same EM (tests/test_hmm.py checks they agree).
"""

import logging
from dataclasses import replace
from typing import Literal

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from iml.bases.base import BaseDistribution, check_codes, standardisation
from iml.bases.hmm_engines import (
    HmmlearnEngine,
    HMMParams,
    NonFiniteFitError,
    TorchEngine,
    check_finite,
    emission_terms,
    repair,
)
from iml.device import pick_device

__all__ = ["GaussianHMMBase", "HMMParams", "NonFiniteFitError", "free_parameters", "sequence_lengths",
           "stationary_distribution"]

log = logging.getLogger(__name__)

KMEANS_SUBSET = 10_000      # frames k-means sees at initialisation
RANDOM_INIT_JITTER = 0.1    # spread (standardised units) of means started on repeated frames
GMM_INIT_MAX_ITER = 200     # EM iterations of the GMM that init "gmm" starts the HMM from
SEQUENCES = ("concatenated", "per_recording")
STATIONARY_STEPS = 1000  # steps of the Cesàro average that gives a chain's stationary distribution


def sequence_lengths(lengths, n_frames):
    """Lengths as an int array that covers the codes exactly; None means one sequence."""
    if lengths is None:
        return np.array([n_frames], dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64).ravel()
    if len(lengths) == 0 or (lengths <= 0).any() or lengths.sum() != n_frames:
        raise ValueError(f"sequence lengths must be positive and sum to the {n_frames} codes; "
                         f"got {len(lengths)} lengths summing to {int(lengths.sum())}")
    return lengths


def stationary_distribution(transmat, steps=STATIONARY_STEPS):
    """The long-run share of time in each state, from a uniform start: the average of the state
    distribution over `steps` steps (an average, so a periodic chain converges too)."""
    p = np.full(len(transmat), 1.0 / len(transmat))
    total = np.zeros_like(p)
    for _ in range(steps):
        total += p
        p = p @ transmat
    return total / total.sum()


def free_parameters(n_states, dim):
    return (n_states - 1) + n_states * (n_states - 1) + 2 * n_states * dim


class GaussianHMMBase(BaseDistribution):
    """Gaussian HMM with diagonal covariances over code sequences.

    fit(codes, lengths) fits on the training sequence `sequence` names (lengths default: one
    recording): "per_recording" one chain per recording, "concatenated" the recordings joined
    in an order drawn from self.rng into one chain (fit_order_).
    sample_sequences(n) -> (codes (n, D), states (n,), lengths): n frames seeded by self.rng;
    "concatenated": one chain (lengths [n]); "per_recording": utterances, each restarted from the
    start probabilities and as long as a training recording drawn at random (the last one cut
    at n). sample(n) -> (codes, states) of the same.
    Scores, one per row whatever the lengths (the shared interface):
      * score_samples(codes, lengths=None) -> per-frame conditional log-densities
        log p(h_t | h_<t), shape (n,); "per_recording": the chain restarting at each sequence
        (no lengths: the codes are one sequence); "concatenated": each sequence a stretch of the
        running chain, entered at its stationary distribution (its own start probabilities sit
        on the one state the training chain began in), so a recording's score does not depend on
        the recording before it; the training codes as EM saw them, one stretch in the fit's
        order: training_chain(codes, lengths); they sum to the sequences' log-likelihood;
      * score(codes, lengths=None) -> their mean, the log-likelihood per frame;
      * sequence_log_likelihoods(codes, lengths) -> log p(h_1..h_T) per sequence, (len(lengths),).
    All are true log-densities of the codes (the standardisation's Jacobian included), under the
    fitted chain with its start and transition probabilities each mixed with a uniform
    distribution of weight score_floor (maximum likelihood gives moves unseen in training
    probability 0, and a held-out recording would be impossible; EM and sampling use the fit).

    Settings: n_states; n_iter and tol (EM stops after n_iter iterations or when the total
    log-likelihood gains less than tol, hmmlearn's rule); backend "torch" or "hmmlearn" (the
    E-step engine; the same EM); var_floor (on standardised codes); init "gmm" (start as the
    diagonal GMM with one component per state, fitted first: the HMM then ends at least as
    likely as that GMM on the training codes), "kmeans" (k-means on a seeded subset of frames)
    or "random" (random frames); device "auto" (CUDA when present), "cpu" or "cuda"; dtype of
    the torch recursions, "float32" (batches where float32 would lose precision are redone in
    float64) or "float64"; random_state (an int) seeds initialisation and sampling.

    Degenerate cases (see `repair`): states with no posterior mass keep their previous
    parameters (they are not reinitialised); states never left keep their previous transition
    row; variances are floored at var_floor; fewer data values than free parameters is fitted
    with a WARNING. Anything else non-finite stops the fit with NonFiniteFitError naming the
    iteration and the quantity. Scoring always uses the PyTorch forward pass in float64,
    whatever the backend. Fitted: params_ (HMMParams over standardised codes), initial_params_
    (where EM started), code_mean_, code_std_, loglik_history_ (code space, before each
    update: with init "gmm" its first entry is the starting GMM's), converged_.
    """

    def __init__(self, n_states: int = 300, n_iter: int = 50, tol: float = 1e-3,
                 backend: Literal["torch", "hmmlearn"] = "torch", var_floor: float = 1e-3,
                 init: Literal["gmm", "kmeans", "random"] = "gmm", device: str = "auto",
                 dtype: Literal["float32", "float64"] = "float32",
                 sequence: Literal["concatenated", "per_recording"] = "per_recording",
                 sample_temperature: float = 1.0, score_floor: float = 1e-6, random_state: int = 0):
        if backend not in ("torch", "hmmlearn"):
            raise ValueError(f"HMM backend must be 'torch' or 'hmmlearn', got {backend!r}")
        if init not in ("gmm", "kmeans", "random"):
            raise ValueError(f"HMM init must be 'gmm', 'kmeans' or 'random', got {init!r}")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"HMM dtype must be 'float32' or 'float64', got {dtype!r}")
        if sequence not in SEQUENCES:
            raise ValueError(f"HMM sequence must be one of {SEQUENCES}, got {sequence!r}")
        if not 0 <= score_floor < 1:
            raise ValueError(f"HMM score_floor must be in [0, 1), got {score_floor!r}")
        if not sample_temperature >= 0:
            raise ValueError(f"HMM sample_temperature must be >= 0, got {sample_temperature!r}")
        if n_states < 1 or n_iter < 1:
            raise ValueError(f"HMM needs n_states >= 1 and n_iter >= 1, got {n_states} and {n_iter}")
        self.n_states, self.n_iter, self.tol, self.backend = n_states, n_iter, tol, backend
        self.var_floor, self.init, self.device, self.dtype = var_floor, init, device, dtype
        self.sequence, self.sample_temperature, self.random_state = sequence, sample_temperature, random_state
        self.score_floor = score_floor
        self.utterance_lengths_ = None  # the training recordings' lengths, drawn from by the sampler
        self.fit_order_ = None  # the order the training recordings were joined in ("concatenated")
        self.rng = np.random.default_rng(random_state)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, codes, lengths=None, validation=None):
        codes = check_codes(codes, "codes given to the HMM fit")
        lengths = sequence_lengths(lengths, len(codes))
        self._warn_if_underdetermined(*codes.shape)
        self.code_mean_, self.code_std_ = standardisation(codes, "HMM: codes")
        self.utterance_lengths_ = lengths
        Z, chain = self._training_sequence(self._standardise(codes), lengths)
        params = self.initial_params(Z)
        self.initial_params_ = params
        engine = (TorchEngine(Z, chain, pick_device(self.device), self.dtype)
                  if self.backend == "torch" else HmmlearnEngine(Z, chain))
        self.params_, history = self.run_em(engine, params)
        self.loglik_history_ = np.array(history) - len(codes) * self._log_std_sum()
        self.converged_ = len(history) >= 2 and history[-1] - history[-2] < self.tol
        per_frame = self.loglik_history_ / len(codes)
        log.info("HMM (%s, %d states, init %s) fitted on %d recordings (%s: %d chains), %d frames of dimension %d: "
                 "%d EM iterations, mean log-likelihood per frame %.4f at the start, %.4f at the "
                 "end%s", self.backend, self.n_states, self.init, len(lengths), self.sequence, len(chain), len(codes),
                 codes.shape[1], len(history), per_frame[0], per_frame[-1],
                 "" if self.converged_ else " (not converged)")
        if getattr(engine, "float64_batches", 0):
            log.info("%d E-step batches were redone in float64, where float32 would have lost precision",
                     engine.float64_batches)
        return self

    def _training_sequence(self, Z, lengths):
        """(codes, chain lengths) EM sees: "per_recording" the recordings as they are;
        "concatenated" the recordings in an order drawn from self.rng, joined into one chain."""
        if self.sequence == "per_recording":
            self.fit_order_ = np.arange(len(lengths))
            return Z, lengths
        self.fit_order_ = self.rng.permutation(len(lengths))
        pieces = np.split(Z, np.cumsum(lengths)[:-1])
        return np.concatenate([pieces[i] for i in self.fit_order_]), np.array([len(Z)])

    def run_em(self, engine, params):
        """EM from params until n_iter or a gain below tol; returns (params, log-likelihoods,
        each under the parameters before that iteration's update, standardised space)."""
        history = []
        for iteration in range(1, self.n_iter + 1):
            loglik, new = engine.em_step(params)
            params = repair(new, params, self.var_floor)
            check_finite(iteration, loglik, params)
            history.append(loglik)
            if len(history) >= 2 and history[-1] - history[-2] < self.tol:
                break
        return params, history

    def initial_params(self, Z):
        """init "gmm": exactly the diagonal GMM fitted first (its means and variances, and its
        weights as the start probabilities and as every transition row), so EM, which never
        lowers the likelihood, ends at least as high as that GMM. "kmeans"/"random": uniform
        start and transitions, unit variances (the standardised codes' own), means from k-means
        on a seeded subset of frames or at random frames."""
        K = self.n_states
        if self.init == "gmm":
            return self._gmm_params(Z)
        means = self._kmeans_means(Z) if self.init == "kmeans" else self._random_means(Z, K)
        return HMMParams(np.full(K, 1.0 / K), np.full((K, K), 1.0 / K), means, np.ones_like(means))

    def _gmm_params(self, Z):
        if len(Z) < self.n_states:
            raise ValueError(f"init 'gmm' needs at least one frame per state: {len(Z)} frames for "
                             f"{self.n_states} states (use init 'kmeans' or fewer states)")
        # reg_covar = var_floor: every variance is then at least the floor EM keeps
        gmm = GaussianMixture(self.n_states, covariance_type="diag", reg_covar=self.var_floor,
                              max_iter=GMM_INIT_MAX_ITER, random_state=int(self.rng.integers(2**31))).fit(Z)
        if not gmm.converged_:
            log.warning("the HMM's starting GMM did not converge in %d iterations", GMM_INIT_MAX_ITER)
        w = gmm.weights_ / gmm.weights_.sum()
        return HMMParams(w, np.tile(w, (self.n_states, 1)), gmm.means_, gmm.covariances_)

    def _kmeans_means(self, Z):
        subset = Z[self.rng.choice(len(Z), min(len(Z), KMEANS_SUBSET), replace=False)]
        k = min(self.n_states, len(subset))  # k-means needs a frame per cluster (hmmlearn #416)
        km = KMeans(k, n_init=1, random_state=int(self.rng.integers(2**31))).fit(subset)
        return np.concatenate([km.cluster_centers_, self._random_means(subset, self.n_states - k)])

    def _random_means(self, Z, k):
        picks = self.rng.choice(len(Z), k, replace=k > len(Z))
        return Z[picks] + RANDOM_INIT_JITTER * self.rng.standard_normal((k, Z.shape[1]))

    def _warn_if_underdetermined(self, n_frames, dim):
        free, values = free_parameters(self.n_states, dim), n_frames * dim
        if values < free:
            log.warning("HMM fit is underdetermined: %d frames x %d dimensions = %d values for %d "
                        "states with %d free parameters; expect unvisited states and a degenerate fit",
                        n_frames, dim, values, self.n_states, free)

    # -- using the fit ----------------------------------------------------------------------

    def sample(self, n):
        """n frames: (codes (n, D), the state behind each frame (n,)); see sample_sequences."""
        codes, states, _ = self.sample_sequences(n)
        return codes, states

    def sample_sequences(self, n):
        """n frames as (codes (n, D), states (n,), lengths of the chains they form): one chain
        ("concatenated", or a base that knows no training lengths), or utterances restarted from
        the start probabilities, each as long as a training recording drawn at random, the last
        cut at n ("per_recording")."""
        p = self.params_
        lengths = self._utterance_lengths(n)
        restart = np.zeros(n, dtype=bool)
        restart[np.cumsum(lengths) - lengths] = True
        u = self.rng.random(n)
        start_cdf, trans_cdf = np.cumsum(p.startprob), np.cumsum(p.transmat, 1)
        states = np.empty(n, dtype=np.int64)
        last = self.n_states - 1  # guards a cdf that ends a rounding error below 1
        for t in range(n):
            cdf = start_cdf if restart[t] else trans_cdf[states[t - 1]]
            states[t] = min(np.searchsorted(cdf, u[t] * cdf[-1], side="right"), last)
        # the temperature scales each state's spread: 0 emits its mean, 1 draws from its Gaussian
        noise = self.rng.standard_normal((n, p.means.shape[1]))
        z = p.means[states] + self.sample_temperature * np.sqrt(p.variances[states]) * noise
        return self._destandardise(z), states, lengths

    def _utterance_lengths(self, n):
        if self.sequence == "concatenated" or self.utterance_lengths_ is None:
            return np.array([n])
        lengths, total = [], 0
        while total < n:
            lengths.append(min(int(self.rng.choice(self.utterance_lengths_)), n - total))
            total += lengths[-1]
        return np.array(lengths)

    def score_samples(self, codes, lengths=None):
        """log p(h_t | h_<t) per frame (the chain restarts at each sequence), shape (n,)."""
        codes = check_codes(codes, "codes scored by the HMM")
        lengths, params = sequence_lengths(lengths, len(codes)), self.params_
        if self.sequence == "concatenated":  # stretches of one chain, already running: its long-run state distribution
            params = replace(params, startprob=stationary_distribution(params.transmat))
        # maximum likelihood gives moves never seen in training probability 0: scores mix each
        # distribution over states with a uniform one of weight score_floor, so new codes stay possible
        k, floor = self.n_states, self.score_floor
        params = replace(params, startprob=(1 - floor) * params.startprob + floor / k,
                         transmat=(1 - floor) * params.transmat + floor / k)
        engine = TorchEngine(self._standardise(codes), lengths, pick_device(self.device), "float64")
        return engine.frame_log_likelihood(params) - self._log_std_sum()

    def training_chain(self, codes, lengths):
        """The training recordings (codes, lengths as fitted) as EM saw them: "concatenated", joined
        in the fit's order into one sequence; "per_recording", as they are."""
        if self.sequence == "per_recording":
            return codes, lengths
        pieces = np.split(codes, np.cumsum(lengths)[:-1])
        return np.concatenate([pieces[i] for i in self.fit_order_]), np.array([len(codes)])

    def score(self, codes, lengths=None):
        """The mean per-frame log-density: the sequences' log-likelihood per frame."""
        return float(np.mean(self.score_samples(codes, lengths)))

    def sequence_log_likelihoods(self, codes, lengths=None):
        """log p(h_1..h_T) of each sequence, shape (len(lengths),)."""
        frames = self.score_samples(codes, lengths)
        lengths = sequence_lengths(lengths, len(frames))
        return np.add.reduceat(frames, np.cumsum(lengths) - lengths)

    def start_score_samples(self, codes):
        """Per-frame log-density of the codes under the mixture EM started from (with init
        "gmm", the fitted diagonal GMM): the starting startprob as weights, no temporal model."""
        z = torch.as_tensor(self._standardise(check_codes(codes, "codes scored by the HMM's start")))
        p = self.initial_params_
        weights, const = emission_terms(torch.as_tensor(p.means), torch.as_tensor(p.variances))
        log_b = torch.cat([z * z, z], 1) @ weights + const
        return torch.logsumexp(log_b + torch.log(torch.as_tensor(p.startprob)), 1).numpy() - self._log_std_sum()

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
                "sequence": self.sequence, "sample_temperature": self.sample_temperature, "score_floor": self.score_floor,
                "random_state": self.random_state}

    def fitted_arrays(self):
        return {**vars(self.params_), **{f"start_{k}": v for k, v in vars(self.initial_params_).items()},
                "code_mean": self.code_mean_, "code_std": self.code_std_,
                "loglik_history": self.loglik_history_, "converged": np.array(self.converged_),
                **({} if self.utterance_lengths_ is None else {"utterance_lengths": self.utterance_lengths_,
                                                               "fit_order": self.fit_order_})}

    def fitted_summary(self):
        return {"sequence": self.sequence, "em_iterations": int(len(self.loglik_history_)),
                "converged": bool(self.converged_)}

    def set_fitted(self, arrays):
        names = ("startprob", "transmat", "means", "variances")
        self.params_ = HMMParams(*(arrays[k] for k in names))
        self.initial_params_ = HMMParams(*(arrays[f"start_{k}"] for k in names))
        self.code_mean_, self.code_std_ = arrays["code_mean"], arrays["code_std"]
        self.loglik_history_, self.converged_ = arrays["loglik_history"], bool(arrays["converged"])
        self.utterance_lengths_ = arrays.get("utterance_lengths")  # absent: parameters given, not fitted on recordings
        self.fit_order_ = arrays.get("fit_order")
        return self
