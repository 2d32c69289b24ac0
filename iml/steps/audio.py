"""Evaluation of one audio run: a generated recording, the codes' log-likelihood per frame under
the bases and the autoencoder's reconstruction SNR."""

import logging

import numpy as np
import torch

from iml.bases import load_base, spec_of
from iml.data import audio, load_audio_splits
from iml.io import save_json, save_npz
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


def per_frame_log_likelihood(base, codes, lengths):
    """The codes' log-likelihood per frame under a base: a sequence base scores the recordings
    (lengths) as its training sequence says; the others score frame by frame."""
    return base.score(codes, lengths) if spec_of(base).sequential else base.score(codes)


def training_log_likelihood(base, codes, lengths):
    """The training codes' log-likelihood per frame: a sequence base scores them as its EM saw
    them (the concatenated chain in its fit's order), the others frame by frame."""
    if spec_of(base).sequential:
        codes, lengths = base.training_chain(codes, lengths)
    return per_frame_log_likelihood(base, codes, lengths)


def audio_scores(data_dir, model_path, base_path, hop, out_path, run_settings=None, device="cpu"):
    """Log-likelihood per frame of the autoencoder's raw codes under the run's base (fit_base),
    held-out and training; for the HMM also under the mixture its EM started from (with init "gmm",
    the diagonal GMM it cannot score below on its training codes) and its training sequence; the
    autoencoder's reconstruction SNR on the held-out recordings; the provenance."""
    from iml.device import pick_device
    from iml.provenance import provenance

    model, base = load_model(model_path), load_base(base_path)
    data = load_audio_splits(data_dir)
    train, test = encode(model, data["x_train"]), encode(model, data["x_test"])
    scores = {"log_likelihood_per_frame": per_frame_log_likelihood(base, test, data["lengths_test"]),
              "train_log_likelihood_per_frame": training_log_likelihood(base, train, data["lengths_train"])}
    if spec_of(base).sequential:  # the HMM
        scores.update(start_log_likelihood_per_frame=float(base.start_score_samples(test).mean()),
                      start_train_log_likelihood_per_frame=float(base.start_score_samples(train).mean()),
                      hmm_init=base.init, hmm_sequence=base.sequence)
    result = {**scores, "n_test_frames": int(len(test)), "n_test_sequences": int(len(data["lengths_test"])),
              "reconstruction_snr_db": float(reconstruction_snr(model, data["x_test"], data["lengths_test"], hop)),
              "provenance": provenance(run_settings, pick_device(device))}
    log.info("log-likelihood per frame, held-out %.3f, training %.3f; reconstruction SNR %.2f dB",
             scores["log_likelihood_per_frame"], scores["train_log_likelihood_per_frame"],
             result["reconstruction_snr_db"])
    save_json(out_path, result)
