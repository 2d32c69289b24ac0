"""Evaluation of one audio run: a generated recording, the codes' log-likelihood per frame under
the bases and the autoencoder's reconstruction SNR."""

import logging
import time
from pathlib import Path

import numpy as np
import torch

from iml.bases import build_base, load_base, spec, spec_of
from iml.bases.base import standardisation
from iml.data import audio
from iml.io import load_npz, save_json, save_npz
from iml.models import load_model
from iml.steps.train import encode

log = logging.getLogger("iml")


def _sequences(x, lengths):
    return np.split(x, np.cumsum(lengths)[:-1])


def generate_audio(model_path, base_path, seconds, hop, wav_path, codes_path):
    """Sample codes from the base, decode each chunk, overlap-add each chain the base sampled (one,
    or utterance by utterance) and join them back to back, as the data's recordings are, into a WAV."""
    model, base = load_model(model_path), load_base(base_path)
    n_frames = int(np.ceil(seconds * audio.SAMPLE_RATE / hop))
    if spec_of(base).sequential:
        codes, states, lengths = base.sample_sequences(n_frames)
    else:
        (codes, states), lengths = base.sample(n_frames), np.array([n_frames])
    with torch.no_grad():
        chunks = model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()
    wave = np.concatenate(waves(chunks, lengths, hop))
    peak = np.abs(wave).max()
    log.info("generated %.1f s (%d frames in %d chains, %d distinct states), peak %.3f",
             len(wave) / audio.SAMPLE_RATE, n_frames, len(lengths),
             len(np.unique(states)) if states is not None else 0, peak)
    audio.write_wav(wav_path, wave / max(peak, 1e-8) * 0.9)
    save_npz(codes_path, codes=codes, states=states if states is not None else np.zeros(0), lengths=lengths)


def waves(chunks, lengths, hop):
    """The recordings (lengths in chunks, back to back) overlap-added back into waves."""
    return [audio.overlap_add(part, hop) for part in _sequences(chunks, lengths)]


def reconstruct(model, x):
    """The autoencoder's reconstruction of chunks x, in batches of ~512."""
    with torch.no_grad():
        return torch.cat([model.reconstruct(torch.as_tensor(b))
                          for b in np.array_split(x, max(1, len(x) // 512))]).numpy()


def reconstruction_snr(model, x, lengths, hop):
    """SNR (dB) of the autoencoder's overlap-added reconstruction of whole recordings."""
    signal = noise = 0.0
    for s, r in zip(waves(x, lengths, hop), waves(reconstruct(model, x), lengths, hop)):
        signal += float((s.astype(np.float64) ** 2).sum())
        noise += float(((s - r).astype(np.float64) ** 2).sum())
    return 10 * np.log10(signal / noise)


def fit_frame_bases(settings, codes, lengths, validation_fraction, seed):
    """The bases without a temporal model of config audio.frame_bases ({name: settings}), each
    fitted on the training recordings less a seeded held-out `validation_fraction` of them (whole
    recordings), on which it chooses what it chooses (the flow: its epoch). Returns the fitted
    bases, what each chose with its fit time and scores per frame on the two parts, and a sentence
    saying what was held out."""
    held, note = audio.hold_out_recordings(lengths, validation_fraction, seed)
    log.info("frame bases choose on %s", note)
    bases, facts = {}, {}
    for name, base_settings in settings.items():
        t0 = time.perf_counter()
        bases[name] = base = build_base(name, base_settings, seed).fit(codes[~held], validation=codes[held])
        facts[name] = {"fit_seconds": time.perf_counter() - t0, "fit_codes": base.score(codes[~held]),
                       "validation": base.score(codes[held]),
                       **{label: int(getattr(base, attr)) for attr, label in spec(name).chooses.items()}}
        log.info("frame base %s: %s", name, facts[name])
    return bases, facts, note


def audio_scores(data_dir, model_path, base_path, hop, seed, out_path, frame_bases, validation_fraction):
    """Log-likelihood per frame of the codes (raw codes: bases that standardise count the
    Jacobian), held-out and training, under the HMM and, without a temporal model, under a
    diagonal GMM with as many components as states (with init "gmm", the very GMM the HMM started
    from, so on training codes the HMM cannot score below it), an N(0, I) base on standardised
    codes and the `frame_bases` ({name: settings}; fit_frame_bases); EM's iterations; the
    autoencoder's reconstruction SNR. The HMM scores recordings as its training sequence says
    (hmm_sequence): one chain each, or joined as its one chain continues."""
    model, hmm = load_model(model_path), load_base(base_path)
    data = load_npz(Path(data_dir) / "splits.npz")
    train, test = encode(model, data["x_train"]), encode(model, data["x_test"])
    mean, std = standardisation(train, "audio scores: training codes")
    if hmm.init == "gmm":
        gmm_scores, gmm_source = hmm.start_score_samples, "the HMM's starting GMM"
    else:
        gmm = build_base("gmm", {"n_components": min(hmm.n_states, len(train)), "covariance_type": "diag"},
                         seed).fit(train)
        gmm_scores, gmm_source = gmm.score_samples, "a separately fitted diagonal GMM"
    normal = build_base("standard_normal", {}, seed).fit(train)
    frame, frame_facts, frame_validation = fit_frame_bases(frame_bases, train, data["lengths_train"],
                                                           validation_fraction, seed)

    def per_frame(codes, lengths):
        return {"hmm": float(hmm.sequence_log_likelihoods(codes, lengths).sum() / len(codes)),
                "gmm": float(gmm_scores(codes).mean()),
                # N(0, I) on standardised codes, with the standardisation's Jacobian
                "standard_normal": float(normal.score_samples((codes - mean) / std).mean() - np.log(std).sum()),
                **{name: base.score(codes) for name, base in frame.items()}}

    held_out, training = per_frame(test, data["lengths_test"]), per_frame(train, data["lengths_train"])
    result = {"log_likelihood_per_frame": held_out, "train_log_likelihood_per_frame": training,
              "n_test_frames": int(len(test)), "n_test_sequences": int(len(data["lengths_test"])),
              "gmm_components": hmm.n_states, "gmm_covariance": "diag", "gmm_source": gmm_source,
              "hmm_init": hmm.init, "hmm_sequence": hmm.sequence,
              "em_iterations": int(len(hmm.loglik_history_)),
              "em_converged": bool(hmm.converged_), "frame_bases": frame_facts,
              "frame_bases_validation": {"fraction": validation_fraction, "held_out": frame_validation},
              "reconstruction_snr_db": float(reconstruction_snr(model, data["x_test"], data["lengths_test"], hop))}
    log.info("log-likelihood per frame, held-out %s, training %s; reconstruction SNR %.2f dB", held_out,
             training, result["reconstruction_snr_db"])
    save_json(out_path, result)
