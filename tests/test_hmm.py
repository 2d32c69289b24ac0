"""The Gaussian HMM base: agreement with hmmlearn, EM behaviour, degenerate cases, seeding."""

import logging

import numpy as np
import pytest
import torch
from hmmlearn.hmm import GaussianHMM

from iml.bases import BASES, build_base, load_base, save_base
from iml.bases.base import NonFiniteCodesError
from iml.bases.hmm import GaussianHMMBase, NonFiniteFitError, free_parameters
from iml.bases.hmm_engines import HmmlearnEngine, HMMParams, TorchEngine, emission_terms, repair

K, D = 6, 4


def draw(params, lengths, rng):
    """Codes drawn from an HMM, sequence by sequence (a plain reference sampler)."""
    out = []
    for n in lengths:
        s = rng.choice(len(params.startprob), p=params.startprob)
        for _ in range(n):
            out.append(rng.normal(params.means[s], np.sqrt(params.variances[s])))
            s = rng.choice(len(params.startprob), p=params.transmat[s])
    return np.array(out)


def random_params(rng, k=K, d=D):
    return HMMParams(startprob=rng.dirichlet(np.ones(k)), transmat=rng.dirichlet(np.ones(k), k),
                     means=rng.normal(0, 1.5, (k, d)), variances=rng.uniform(0.3, 1.5, (k, d)))


@pytest.fixture
def small():
    """20 sequences of 5-15 frames from a random 6-state HMM, and different starting parameters."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 16, size=20)
    z = draw(random_params(rng), lengths, rng)
    return z, lengths, random_params(rng)


def reference_hmmlearn(params, n_iter=1):
    """hmmlearn itself, set up so its update is plain maximum likelihood: no initialisation of
    its own (init_params=""), Dirichlet priors 1, no means prior, and covars_prior 0 (its default
    1e-2 would add to every variance's numerator; covars_weight 1 adds nothing to the denominator).
    min_covar is only used by its initialisation."""
    m = GaussianHMM(len(params.startprob), covariance_type="diag", implementation="scaling", n_iter=n_iter,
                    init_params="", params="stmc", covars_prior=0.0, covars_weight=1.0, means_weight=0.0)
    m.startprob_, m.transmat_, m.means_, m.covars_ = (params.startprob, params.transmat,
                                                      params.means, params.variances)
    return m


def split(z, lengths):
    return np.split(z, np.cumsum(lengths)[:-1])


def hmm_base(params, mean=0.0, std=1.0):
    """A fitted base with given parameters, over codes standardised by (mean, std)."""
    base = GaussianHMMBase(n_states=len(params.startprob), device="cpu", score_floor=0.0)  # exact ML scores
    dim = params.means.shape[1]
    base.params_, base.code_mean_, base.code_std_ = params, np.full(dim, mean), np.full(dim, std)
    return base


# -- agreement with hmmlearn -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sequence_log_likelihoods_match_hmmlearn(small, dtype):
    z, lengths, params = small
    frames = TorchEngine(z, lengths, "cpu", dtype).frame_log_likelihood(params)
    ours = np.add.reduceat(frames, np.cumsum(lengths) - lengths)
    ref = np.array([reference_hmmlearn(params).score(x) for x in split(z, lengths)])
    np.testing.assert_allclose(ours, ref, rtol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_em_update_matches_hmmlearn(small, dtype):
    z, lengths, params = small
    total, new = TorchEngine(z, lengths, "cpu", dtype).em_step(params)
    m = reference_hmmlearn(params)
    m.fit(z, lengths)
    tight = dict(rtol=1e-5, atol=1e-7) if dtype == "float32" else dict(rtol=1e-10, atol=1e-13)
    assert total == pytest.approx(m.monitor_.history[-1], rel=1e-6 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(new.startprob, m.startprob_, **tight)
    np.testing.assert_allclose(new.transmat, m.transmat_, **tight)
    np.testing.assert_allclose(new.means, m.means_, **tight)
    np.testing.assert_allclose(new.variances, np.diagonal(m.covars_, axis1=1, axis2=2), **tight)


def test_both_backends_fit_the_same_model(small):
    z, lengths, _ = small
    fits = {b: GaussianHMMBase(n_states=K, n_iter=8, tol=-np.inf, backend=b, dtype="float64", device="cpu",
                               random_state=1).fit(z, lengths) for b in ("torch", "hmmlearn")}
    torch_fit, hmmlearn_fit = fits["torch"], fits["hmmlearn"]
    np.testing.assert_allclose(torch_fit.loglik_history_, hmmlearn_fit.loglik_history_, rtol=1e-10)
    for name in ("startprob", "transmat", "means", "variances"):
        np.testing.assert_allclose(getattr(torch_fit.params_, name), getattr(hmmlearn_fit.params_, name),
                                   rtol=1e-7, atol=1e-10, err_msg=name)


def test_batches_and_blocks_do_not_change_the_result(small):
    z, lengths, params = small
    whole = TorchEngine(z, lengths, "cpu", "float64", block_rows=10**6)
    pieces = TorchEngine(z, lengths, "cpu", "float64", max_batch_frames=40, block_rows=3)
    assert len(pieces.batches) > 1
    np.testing.assert_allclose(pieces.frame_log_likelihood(params), whole.frame_log_likelihood(params),
                               rtol=1e-12)
    (t1, a), (t2, b) = whole.em_step(params), pieces.em_step(params)
    assert t1 == pytest.approx(t2, rel=1e-12)
    for name in ("startprob", "transmat", "means", "variances"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, err_msg=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_engine_matches_cpu(small):
    z, lengths, params = small
    for dtype in ("float64", "float32"):
        (t_cpu, a), (t_gpu, b) = (TorchEngine(z, lengths, dev, dtype).em_step(params)
                                  for dev in ("cpu", "cuda"))
        assert t_gpu == pytest.approx(t_cpu, rel=1e-6)
        np.testing.assert_allclose(b.means, a.means, rtol=1e-5, atol=1e-7)


# -- scores are log-densities of the codes ---------------------------------------------------


def test_scores_are_log_densities_of_the_raw_codes(small):
    """Scores work in code space: the same HMM written over raw codes scores them identically in
    hmmlearn, so the standardisation's Jacobian is accounted for."""
    z, lengths, params = small
    mean, std = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 0.5, 1.5, 4.0])
    codes = z * std + mean
    base = hmm_base(params, mean, std)
    raw = HMMParams(params.startprob, params.transmat, params.means * std + mean, params.variances * std**2)
    ref = np.array([reference_hmmlearn(raw).score(x) for x in split(codes, lengths)])
    np.testing.assert_allclose(base.sequence_log_likelihoods(codes, lengths), ref, rtol=1e-12)


def test_score_samples_gives_per_frame_conditionals_and_score_their_mean(small):
    z, lengths, params = small
    base = hmm_base(params)
    x = z[:12]
    frames = base.score_samples(x)
    assert frames.shape == (12,)
    prefix = [reference_hmmlearn(params).score(x[:t]) for t in range(1, 13)]
    np.testing.assert_allclose(frames, np.diff(prefix, prepend=0.0), rtol=1e-10, atol=1e-10)
    assert frames.sum() == pytest.approx(base.sequence_log_likelihoods(x, [12])[0], rel=1e-12)
    # with lengths: still one score per row (the chain restarting at each sequence), score the mean
    per_frame = base.score_samples(z, lengths)
    assert per_frame.shape == (len(z),)
    per_sequence = np.add.reduceat(per_frame, np.cumsum(lengths) - lengths)
    np.testing.assert_allclose(per_sequence, base.sequence_log_likelihoods(z, lengths), rtol=1e-12)
    assert base.score(z, lengths) == pytest.approx(per_sequence.sum() / len(z), rel=1e-12)


# -- EM behaviour ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_em_log_likelihood_never_decreases(small, dtype):
    z, lengths, _ = small
    base = GaussianHMMBase(n_states=K, n_iter=40, tol=-np.inf, dtype=dtype, device="cpu", random_state=0)
    base.fit(z, lengths)
    history = base.loglik_history_
    assert len(history) == 40 and history[-1] > history[0]
    np.testing.assert_array_less(-np.diff(history), 1e-8 * np.abs(history[1:]))


def test_em_stops_at_the_first_gain_below_tol_and_records_convergence(small, caplog):
    """hmmlearn's rule: EM stops once an iteration gains less than tol in total log-likelihood, and
    converged_ says whether that happened before n_iter ran out."""
    z, lengths, _ = small
    settings = {"n_states": K, "init": "kmeans", "device": "cpu", "random_state": 0}
    free = GaussianHMMBase(**settings, n_iter=60, tol=-np.inf).fit(z, lengths)
    gains = np.diff(free.loglik_history_)
    assert not free.converged_  # no gain is below -inf: it ran all 60 iterations
    tol = float(np.median(gains))
    stop = int(np.flatnonzero(gains < tol)[0]) + 2  # iterations run: through the first small gain
    assert 2 < stop < 60
    with caplog.at_level(logging.INFO, logger="iml.bases.hmm"):
        stopped = GaussianHMMBase(**settings, n_iter=60, tol=tol).fit(z, lengths)
    assert stopped.converged_ and "(not converged)" not in caplog.text
    np.testing.assert_allclose(stopped.loglik_history_, free.loglik_history_[:stop], rtol=1e-12)
    short = GaussianHMMBase(**settings, n_iter=stop - 1, tol=tol).fit(z, lengths)
    assert not short.converged_ and len(short.loglik_history_) == stop - 1


def test_random_init_starts_means_at_seeded_frames(small):
    from iml.bases.hmm import RANDOM_INIT_JITTER

    z, lengths, _ = small
    base = GaussianHMMBase(n_states=K, n_iter=10, tol=-np.inf, init="random", device="cpu", random_state=2)
    base.fit(z, lengths)
    start = base.initial_params_
    np.testing.assert_array_equal(start.startprob, np.full(K, 1 / K))
    np.testing.assert_array_equal(start.transmat, np.full((K, K), 1 / K))
    np.testing.assert_array_equal(start.variances, np.ones((K, D)))  # the standardised codes' own scale
    frames = base._standardise(z)
    nearest = np.sqrt(((start.means[:, None] - frames[None]) ** 2).sum(-1)).min(1)
    assert (nearest < 6 * RANDOM_INIT_JITTER * np.sqrt(D)).all()  # each mean is a frame plus a little jitter
    assert len({tuple(np.round(m, 6)) for m in start.means}) == K
    again = GaussianHMMBase(n_states=K, n_iter=10, init="random", device="cpu", random_state=2).fit(z, lengths)
    other = GaussianHMMBase(n_states=K, n_iter=10, init="random", device="cpu", random_state=3).fit(z, lengths)
    np.testing.assert_array_equal(again.initial_params_.means, start.means)
    assert not np.allclose(other.initial_params_.means, start.means)
    np.testing.assert_array_less(-np.diff(base.loglik_history_), 1e-8 * np.abs(base.loglik_history_[1:]))


def test_recovers_a_known_three_state_hmm_better_than_one_state():
    rng = np.random.default_rng(5)
    truth = HMMParams(startprob=np.array([0.5, 0.3, 0.2]),
                      transmat=np.array([[0.9, 0.08, 0.02], [0.05, 0.9, 0.05], [0.1, 0.1, 0.8]]),
                      means=np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0]]),
                      variances=np.array([[0.5, 1.0], [1.0, 0.3], [0.8, 0.8]]))
    train_lengths, test_lengths = rng.integers(20, 41, 60), rng.integers(20, 41, 30)
    train, test = draw(truth, train_lengths, rng), draw(truth, test_lengths, rng)
    held_out = {k: GaussianHMMBase(n_states=k, n_iter=100, device="cpu", random_state=0).fit(train, train_lengths)
                .score(test, test_lengths) for k in (1, 3)}
    true = hmm_base(truth).score(test, test_lengths)
    assert held_out[3] > held_out[1] + 0.5  # nats per frame
    assert held_out[3] == pytest.approx(true, abs=0.05)


# -- degenerate cases (hmmlearn's bug reports #110, #169, #186, #416) ------------------------------------


def engine(name, z, lengths):
    return TorchEngine(z, lengths, "cpu", "float64") if name == "torch" else HmmlearnEngine(z, lengths)


@pytest.mark.parametrize("backend", ["torch", "hmmlearn"])
def test_unvisited_state_keeps_its_parameters(small, backend):
    z, lengths, params = small
    params.means[5] = 1e3  # so far from every frame that its posterior is exactly zero
    _, raw = engine(backend, z, lengths).em_step(params)
    assert np.isnan(raw.means[5]).all()  # what the plain update gives (0/0)
    new = repair(raw, params, var_floor=1e-3)
    for name in ("startprob", "transmat", "means", "variances"):
        assert np.isfinite(getattr(new, name)).all(), name
    np.testing.assert_array_equal(new.means[5], params.means[5])
    np.testing.assert_array_equal(new.variances[5], params.variances[5])
    np.testing.assert_allclose(new.transmat[5], params.transmat[5])  # never left either
    np.testing.assert_allclose(new.transmat.sum(1), 1.0)
    assert new.startprob[5] == 0.0


@pytest.mark.parametrize("backend", ["torch", "hmmlearn"])
def test_state_seen_only_at_sequence_ends_gets_no_zero_row_or_zero_variance(backend):
    """Every sequence ends on the same frame, far from the rest: the state that takes those
    frames is never left (a zero-sum transition row) and its variance collapses to 0."""
    rng = np.random.default_rng(2)
    lengths = rng.integers(5, 11, 15)
    z = rng.normal(0, 1, (lengths.sum(), D))
    z[np.cumsum(lengths) - 1] = 30.0
    params = HMMParams(np.full(3, 1 / 3), np.full((3, 3), 1 / 3),
                       np.array([[-0.5] * D, [0.5] * D, [30.0] * D]), np.ones((3, D)))
    _, raw = engine(backend, z, lengths).em_step(params)
    assert raw.transmat[2].sum() == 0 or np.isnan(raw.transmat[2]).all()
    assert np.abs(raw.variances[2]).max() < 1e-9
    new = repair(raw, params, var_floor=1e-3)
    np.testing.assert_allclose(new.transmat[2], params.transmat[2])
    np.testing.assert_allclose(new.transmat.sum(1), 1.0)
    np.testing.assert_allclose(new.means[2], 30.0)  # visited, so updated
    np.testing.assert_array_equal(new.variances[2], 1e-3)
    assert (new.variances >= 1e-3).all()


def test_fit_on_collapsing_data_stays_finite_and_floored():
    rng = np.random.default_rng(3)
    codes = np.repeat(rng.normal(0, 1, (8, D)), 10, axis=0)  # 8 distinct frames, each 10 times
    base = GaussianHMMBase(n_states=K, n_iter=20, var_floor=1e-2, device="cpu", random_state=0).fit(codes, [20] * 4)
    p = base.params_
    assert all(np.isfinite(getattr(p, f)).all() for f in ("startprob", "transmat", "means", "variances"))
    assert p.variances.min() == pytest.approx(1e-2)
    assert np.isfinite(base.score_samples(codes, [20] * 4)).all()


def test_more_parameters_than_frames_warns_and_still_fits(caplog):
    """20 frames for 30 states: a WARNING with the numbers, and k-means (which needs a frame per
    cluster, hmmlearn #416) gives the states it cannot place random frames instead."""
    codes = np.random.default_rng(4).normal(size=(20, 2))
    free = free_parameters(30, 2)
    assert free == 29 + 30 * 29 + 2 * 30 * 2
    with caplog.at_level(logging.WARNING, logger="iml.bases.hmm"):
        base = GaussianHMMBase(n_states=30, n_iter=5, init="kmeans", device="cpu").fit(codes, [10, 10])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("20 frames" in w and "30 states" in w and f"{free} free parameters" in w for w in warnings)
    assert np.isfinite(base.params_.means).all() and np.isfinite(base.score_samples(codes, [10, 10])).all()


def test_the_underdetermined_warning_counts_values_not_frames(caplog):
    """8 states on 1113 frames of 80 values (89040 values, 1343 free parameters) is not
    underdetermined, although there are fewer frames than parameters."""
    codes = np.random.default_rng(4).normal(size=(1113, 80))
    with caplog.at_level(logging.WARNING, logger="iml.bases.hmm"):
        GaussianHMMBase(n_states=8, n_iter=2, device="cpu").fit(codes, [371] * 3)
    assert not [r for r in caplog.records if "underdetermined" in r.getMessage()]


def test_gmm_init_needs_a_frame_per_state():
    with pytest.raises(ValueError, match="20 frames for 30 states"):
        GaussianHMMBase(n_states=30, init="gmm", device="cpu").fit(np.zeros((20, 2)) + np.arange(20)[:, None])


def test_a_non_finite_statistic_stops_the_fit_naming_iteration_and_quantity(small):
    """An E-step that goes wrong at the third iteration (here: NaN start counts, as an overflow
    gives) is refused by name instead of being carried through the remaining iterations."""
    z, lengths, params = small

    class Failing(TorchEngine):
        calls = 0

        def em_step(self, p):
            Failing.calls += 1
            total, new = super().em_step(p)
            if Failing.calls == 3:
                new.startprob[:] = np.nan
            return total, new

    base = GaussianHMMBase(n_states=K, n_iter=10, tol=-np.inf, device="cpu")
    with pytest.raises(NonFiniteFitError, match="iteration 3: startprob is not finite"):
        base.run_em(Failing(z, lengths, "cpu", "float32"), params)


def test_non_finite_codes_and_bad_lengths_are_refused(small):
    z, lengths, params = small
    bad = z.copy()
    bad[7, 2] = np.inf
    with pytest.raises(NonFiniteCodesError, match="1 of .* codes contain NaN or inf.*row 7"):
        GaussianHMMBase(n_states=K, device="cpu").fit(bad, lengths)
    with pytest.raises(NonFiniteCodesError):
        hmm_base(params).score_samples(bad, lengths)
    with pytest.raises(ValueError, match="sum to the"):
        GaussianHMMBase(n_states=K, device="cpu").fit(z, lengths[:-1])


# -- seeding, sampling, interface ------------------------------------------------------------


def test_fit_and_samples_are_seeded(small):
    z, lengths, _ = small
    fit = lambda seed: GaussianHMMBase(n_states=K, n_iter=5, device="cpu", random_state=seed).fit(z, lengths)
    a, b, c = fit(3), fit(3), fit(4)
    for name in ("startprob", "transmat", "means", "variances"):
        np.testing.assert_array_equal(getattr(a.params_, name), getattr(b.params_, name))
    (ca, sa), (cb, sb), (cc, _) = a.sample(50), b.sample(50), c.sample(50)
    np.testing.assert_array_equal(ca, cb)
    np.testing.assert_array_equal(sa, sb)
    assert not np.allclose(ca, cc)


def test_samples_follow_the_chain_and_the_emissions():
    truth = HMMParams(startprob=np.array([1.0, 0.0, 0.0]),
                      transmat=np.array([[0.8, 0.2, 0.0], [0.0, 0.7, 0.3], [0.4, 0.0, 0.6]]),
                      means=np.array([[0.0, 1.0], [5.0, -1.0], [-4.0, 2.0]]),
                      variances=np.array([[1.0, 0.25], [0.5, 1.0], [2.0, 0.1]]))
    mean, std = np.array([10.0, -3.0]), np.array([2.0, 0.5])
    base = hmm_base(truth, mean, std)
    codes, states = base.sample(20000)
    assert codes.shape == (20000, 2) and states.shape == (20000,) and states[0] == 0
    counts = np.zeros((3, 3))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(1, keepdims=True), truth.transmat, atol=0.02)
    for k in range(3):  # emissions in code space: destandardised means and variances
        np.testing.assert_allclose(codes[states == k].mean(0), truth.means[k] * std + mean, atol=0.1)
        np.testing.assert_allclose(codes[states == k].var(0), truth.variances[k] * std**2, rtol=0.08)


@pytest.mark.parametrize("temperature", [0.0, 0.5])
def test_the_sample_temperature_scales_each_states_spread(temperature, tmp_path):
    truth = HMMParams(startprob=np.array([0.5, 0.5]), transmat=np.array([[0.9, 0.1], [0.2, 0.8]]),
                      means=np.array([[0.0, 1.0], [5.0, -1.0]]), variances=np.array([[1.0, 0.25], [0.5, 4.0]]))
    mean, std = np.array([10.0, -3.0]), np.array([2.0, 0.5])
    base = hmm_base(truth, mean, std)
    base.sample_temperature = temperature
    codes, states = base.sample(20000)
    for k in range(2):
        np.testing.assert_allclose(codes[states == k].mean(0), truth.means[k] * std + mean, atol=0.05)
        np.testing.assert_allclose(codes[states == k].var(0), temperature**2 * truth.variances[k] * std**2,
                                   rtol=0.08, atol=1e-12)
    assert GaussianHMMBase(sample_temperature=temperature).settings()["sample_temperature"] == temperature
    with pytest.raises(ValueError, match="sample_temperature must be >= 0"):
        GaussianHMMBase(sample_temperature=-1.0)


def test_registered_stored_and_keeps_the_shared_interface(small, tmp_path):
    z, lengths, _ = small
    assert BASES["hmm"].builder is GaussianHMMBase
    base = build_base("hmm", {"n_states": K, "n_iter": 5, "device": "cpu"}, random_state=0).fit(z, lengths)
    codes, states = base.sample(30)
    assert codes.shape == (30, D) and states.shape == (30,)
    assert base.score_samples(codes).shape == (30,)
    assert base.score_samples(z, lengths).shape == (len(z),)
    assert base.sequence_log_likelihoods(z, lengths).shape == (len(lengths),)
    save_base(tmp_path / "base.npz", "hmm", base)
    clone = load_base(tmp_path / "base.npz")
    np.testing.assert_array_equal(clone.score_samples(z, lengths), base.score_samples(z, lengths))
    np.testing.assert_array_equal(clone.start_score_samples(z), base.start_score_samples(z))
    np.testing.assert_array_equal(clone.sample(20)[0], base.sample(20)[0])


# -- the paper's size: 300 states ----------------------------------------------------------


@pytest.fixture(scope="module")
def digit0_codes(fsdd_digit0):
    """Real codes: every training recording of FSDD digit 0 (speaker theo held out, as the
    workflow does) through the suite's small conv autoencoder (tests/conftest.py); 2459 frames of 80."""
    from iml.models import load_model
    from iml.steps.train import encode

    _, model_path, arrays = fsdd_digit0
    return encode(load_model(model_path), arrays["x_train"]), arrays["lengths_train"]


def near_deterministic(n_states=300, dim=80, n_sequences=150, seed=0):
    """Codes of a 300-state HMM whose states follow a fixed cycle with probability 0.999, with
    well-separated emissions: the regime where unscaled backward variables overflow float32."""
    rng = np.random.default_rng(seed)
    transmat = np.full((n_states, n_states), 0.001 / (n_states - 1))
    transmat[np.arange(n_states), (np.arange(n_states) + 1) % n_states] = 0.999
    truth = HMMParams(np.full(n_states, 1 / n_states), transmat, rng.normal(0, 3, (n_states, dim)),
                      rng.uniform(0.2, 1.0, (n_states, dim)))
    lengths = rng.integers(10, 30, n_sequences)
    return draw(truth, lengths, rng), lengths


def em_trajectory_agrees(codes, lengths, init, n_iter=50, hmmlearn_every=25):
    """50 EM iterations of 300 states from `init`: the float32 fit is finite and monotone, and at
    every iteration of the float64 trajectory the float32 E-step gives the same log-likelihood
    and update (within 1e-5 relative per frame), as does hmmlearn at every 25th iteration.
    (Whole 50-iteration fits are not compared: in a fit this underdetermined, EM amplifies
    1e-10 differences into a different but equally valid trajectory.)"""
    fit32 = GaussianHMMBase(n_states=300, n_iter=n_iter, tol=-np.inf, init=init, dtype="float32", device="cpu",
                            random_state=0).fit(codes, lengths)
    history = fit32.loglik_history_
    assert len(history) == n_iter and np.isfinite(history).all()
    np.testing.assert_array_less(-np.diff(history), 1e-8 * np.abs(history[1:]))
    assert all(np.isfinite(v).all() for v in vars(fit32.params_).values())

    z, n = fit32._standardise(codes), len(codes)
    e32, e64, ref = (TorchEngine(z, lengths, "cpu", "float32"), TorchEngine(z, lengths, "cpu", "float64"),
                     HmmlearnEngine(z, lengths))
    params = fit32.initial_params_
    for iteration in range(n_iter):
        (l32, new32), (l64, new64) = e32.em_step(params), e64.em_step(params)
        assert abs(l32 - l64) / n <= 1e-5 * abs(l64 / n), iteration
        np.testing.assert_allclose(new32.means, new64.means, rtol=1e-5, atol=1e-6)
        if iteration % hmmlearn_every == 0:
            l_ref, _ = ref.em_step(params)
            assert abs(l64 - l_ref) / n <= 1e-5 * abs(l_ref / n), iteration
        params = repair(new64, params, 1e-3)
    return fit32, e32.float64_batches


def test_300_states_on_real_codes_in_float32_are_finite_and_agree(digit0_codes):
    codes, lengths = digit0_codes
    em_trajectory_agrees(codes, lengths, init="kmeans")  # the start that overflowed float32 before


def test_300_states_with_near_deterministic_transitions_in_float32():
    codes, lengths = near_deterministic()
    em_trajectory_agrees(codes, lengths, init="kmeans")


def test_the_hmm_started_from_its_gmm_ends_at_least_as_likely_on_real_codes(digit0_codes):
    """init "gmm": the first log-likelihood is the fitted diagonal GMM's (the HMM starts as
    exactly that mixture), and EM only climbs from there."""
    codes, lengths = digit0_codes
    base = GaussianHMMBase(n_states=300, n_iter=20, device="cpu", random_state=0).fit(codes, lengths)
    gmm_total = base.start_score_samples(codes).sum()
    assert base.loglik_history_[0] == pytest.approx(gmm_total, rel=1e-9)
    assert base.score_samples(codes, lengths).sum() >= gmm_total
    assert base.loglik_history_[-1] > gmm_total + 1.0 * len(codes)  # the temporal model helps here


# -- the two training sequences, on real codes ------------------------------------------------


def recording_starts(lengths):
    return np.cumsum(lengths) - lengths


def test_both_training_sequences_give_finite_monotone_em_on_real_codes(digit0_codes):
    codes, lengths = digit0_codes
    for sequence in ("concatenated", "per_recording"):
        fit = GaussianHMMBase(n_states=20, n_iter=15, tol=-np.inf, sequence=sequence, device="cpu",
                              random_state=0).fit(codes, lengths)
        history = fit.loglik_history_
        assert len(history) == 15 and np.isfinite(history).all(), sequence
        np.testing.assert_array_less(-np.diff(history), 1e-8 * np.abs(history[1:]), err_msg=sequence)
        assert history[-1] > history[0] + 1.0 * len(codes), sequence  # EM did climb


def likeliest_states(base, codes):
    """The state whose emission density is highest at each frame."""
    p = base.params_
    z = torch.as_tensor(base._standardise(codes))
    weights, const = emission_terms(torch.as_tensor(p.means), torch.as_tensor(p.variances))
    return (torch.cat([z * z, z], 1) @ weights + const).argmax(1).numpy()


def test_concatenated_fit_learns_the_moves_from_one_recording_into_the_next(digit0_codes):
    """The paper's training sequence: the recordings joined in a seeded order into one chain. Its
    transitions include the moves from each utterance's end into the next one's start, which a
    per-recording fit never sees. (How much longer the per-recording chain then dwells in the
    states utterances end in depends on the autoencoder: 35% on one, 3% on this suite's.)"""
    codes, lengths = digit0_codes
    fits = {s: GaussianHMMBase(n_states=12, n_iter=10, sequence=s, device="cpu", random_state=0).fit(codes, lengths)
            for s in ("concatenated", "per_recording")}
    joined = fits["concatenated"]
    order = joined.fit_order_
    assert sorted(order) == list(range(len(lengths))) and (order != np.arange(len(lengths))).any()
    other = GaussianHMMBase(n_states=12, n_iter=1, sequence="concatenated", device="cpu", random_state=1)
    assert (other.fit(codes, lengths).fit_order_ != order).any()  # the order follows the seed
    # one chain, one start: the start probabilities sit on the states of the chain's first frame
    assert joined.params_.startprob.max() > 0.99

    ends, starts = np.cumsum(lengths) - 1, recording_starts(lengths)
    move = {}
    for name, fit in fits.items():
        states = likeliest_states(fit, codes)
        # each boundary of the joined chain: the state an utterance ends in, the one the next starts in
        last, first = states[ends][order[:-1]], states[starts][order[1:]]
        move[name] = np.log(fit.params_.transmat[last, first] + 1e-300).mean()
    assert move["concatenated"] > -5 and move["per_recording"] < move["concatenated"] - 5, move


def test_concatenated_fit_scores_other_recordings_as_stretches_of_the_running_chain(digit0_codes, tmp_path):
    """Held-out recordings enter the chain at its stationary distribution, each on its own (a
    recording's score does not depend on the one before it, so no unseen end-to-start move can
    make the codes impossible); the training codes are scored as EM saw them, in the fit's order."""
    codes, lengths = digit0_codes
    held, fit_codes = slice(0, lengths[:10].sum()), slice(lengths[:10].sum(), None)
    base = GaussianHMMBase(n_states=12, n_iter=5, sequence="concatenated", device="cpu",
                           random_state=0).fit(codes[fit_codes], lengths[10:])
    sums = base.sequence_log_likelihoods(codes[held], lengths[:10])
    assert sums.shape == (10,) and np.isfinite(sums).all()
    pieces = np.split(codes[held], np.cumsum(lengths[:10])[:-1])
    reversed_sums = base.sequence_log_likelihoods(np.concatenate(pieces[::-1]), lengths[:10][::-1])
    np.testing.assert_allclose(reversed_sums[::-1], sums, rtol=1e-10)
    chain, chain_lengths = base.training_chain(codes[fit_codes], lengths[10:])
    train_pieces = np.split(codes[fit_codes], np.cumsum(lengths[10:])[:-1])
    assert list(chain_lengths) == [len(chain)] and sorted(base.fit_order_) == list(range(len(lengths) - 10))
    np.testing.assert_array_equal(chain[: len(train_pieces[base.fit_order_[0]])], train_pieces[base.fit_order_[0]])
    assert np.isfinite(base.score(chain, chain_lengths))
    save_base(tmp_path / "base.npz", "hmm", base)
    clone = load_base(tmp_path / "base.npz")
    assert clone.sequence == "concatenated"
    np.testing.assert_array_equal(clone.utterance_lengths_, lengths[10:])
    np.testing.assert_array_equal(clone.fit_order_, base.fit_order_)
    np.testing.assert_array_equal(clone.score_samples(codes[held], lengths[:10]),
                                  base.score_samples(codes[held], lengths[:10]))


def test_utterance_wise_samples_are_as_long_as_training_recordings(digit0_codes):
    """per_recording: the sampler restarts from the start probabilities after a length drawn
    from the training recordings' lengths; the concatenated chain is sampled as one chain."""
    from scipy import stats

    codes, lengths = digit0_codes
    base = GaussianHMMBase(n_states=12, n_iter=5, sequence="per_recording", device="cpu",
                           random_state=0).fit(codes, lengths)
    sampled, states, drawn = base.sample_sequences(20000)
    assert sampled.shape == (20000, codes.shape[1]) and drawn.sum() == 20000
    whole = drawn[:-1]  # the last is cut at n
    assert len(whole) > 200 and set(whole) <= set(lengths)
    assert stats.ks_2samp(whole, lengths).pvalue > 0.01
    assert abs(np.median(whole) - np.median(lengths)) <= 2
    # each utterance starts from the start probabilities
    first = states[recording_starts(drawn)]
    top = np.argmax(base.params_.startprob)
    assert abs((first == top).mean() - base.params_.startprob[top]) < 0.08
    concatenated = GaussianHMMBase(n_states=12, n_iter=2, sequence="concatenated", device="cpu",
                                   random_state=0).fit(codes, lengths)
    assert list(concatenated.sample_sequences(500)[2]) == [500]
