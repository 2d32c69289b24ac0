"""Workflow steps of the audio chain (Sec. 4.2): data, generation, scores and figures."""

import logging
from pathlib import Path

import numpy as np
import torch

from iml import plots
from iml.bases import build_base, load_base
from iml.data import audio, fsdd
from iml.data.download import fetch
from iml.io import load_npz, save_json, save_npz, save_text
from iml.models import load_model
from iml.steps import encode

log = logging.getLogger("iml")


def download_fsdd(listing, mirror, archive, retries, timeout):
    """The verified recordings into `recordings/` beside `listing`, then `listing` itself (their
    `md5  name` lines): the rule's only output, so a failed fetch keeps what was verified."""
    listing = Path(listing)
    verified = fsdd.fetch_fsdd(listing.parent / "recordings", mirror=mirror, archive=archive,
                               retries=retries, timeout=timeout)
    save_text(listing, "".join(f"{md5}  {name}\n" for name, md5 in sorted(verified.items())))


def download_violin(source, md5, dest, mirror, retries, timeout):
    """The user's violin recording: an existing local path (used as given, never the mirror's file
    of the same name), a URL (the mirror's `violin/<name>` first), or a file name in the mirror."""
    source = str(source)
    if "://" in source:
        base, name = source.rsplit("/", 1)
        fetch(name, dest, md5, "violin", [base], mirror=mirror, retries=retries, timeout=timeout)
    elif Path(source).exists():
        fetch(Path(source).name, dest, md5, "violin", [str(Path(source).absolute().parent)],
              retries=retries, timeout=timeout)
    elif "/" in source or not mirror:
        raise FileNotFoundError(f"data.violin.source: {source} not found"
                                + ("" if "/" in source else " (and no data.mirror to look it up in)"))
    else:
        fetch(source, dest, md5, "violin", [], mirror=mirror, retries=retries, timeout=timeout)


def preprocess_audio(dataset, inputs, settings, chunk, splits_path, info_path):
    if settings["source"] == "violin":
        arrays, info = fsdd.make_violin_splits(inputs, settings["test_fraction"], chunk["size"], chunk["hop"])
    else:
        if settings["source"] == "fsdd":  # the download's listing: its recordings, nothing else
            entries = fsdd.recordings(Path(inputs).parent / "recordings",
                                      fsdd.read_listing(Path(inputs).read_text()))
            labels, origin = settings["digits"], "FSDD"
        else:
            entries, labels, origin = fsdd.user_recordings(inputs), settings["labels"], f"recordings {inputs}"
        arrays, info = fsdd.make_splits(entries, labels, settings["n_utterances"], settings["held_out_speakers"],
                                        settings["seed"], chunk["size"], chunk["hop"])
        info["description"] = f"{origin} {info['description']}"
    log.info("%s: %s; train %d chunks, test %d chunks", dataset, info["description"],
             len(arrays["x_train"]), len(arrays["x_test"]))
    save_npz(splits_path, **arrays)
    save_json(info_path, info)


def _sequences(x, lengths):
    return np.split(x, np.cumsum(lengths)[:-1])


def generate_audio(model_path, base_path, seconds, hop, wav_path, codes_path):
    """Sample a code sequence from the base, decode each chunk, overlap-add into a WAV."""
    model, base = load_model(model_path), load_base(base_path)
    n_frames = int(np.ceil(seconds * audio.SAMPLE_RATE / hop))
    codes, states = base.sample(n_frames)
    with torch.no_grad():
        chunks = model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()
    wave = audio.overlap_add(chunks, hop)
    peak = np.abs(wave).max()
    log.info("generated %.1f s (%d frames, %d distinct states), peak %.3f", len(wave) / audio.SAMPLE_RATE,
             n_frames, len(np.unique(states)) if states is not None else 0, peak)
    audio.write_wav(wav_path, wave / max(peak, 1e-8) * 0.9)
    save_npz(codes_path, codes=codes, states=states if states is not None else np.zeros(0))


def reconstruction_snr(model, x, lengths, hop):
    """SNR (dB) of the autoencoder's overlap-added reconstruction of whole recordings."""
    with torch.no_grad():
        recon = torch.cat([model.reconstruct(torch.as_tensor(b)) for b in np.array_split(x, max(1, len(x) // 512))])
    signal = noise = 0.0
    for original, rebuilt in zip(_sequences(x, lengths), _sequences(recon.numpy(), lengths)):
        s, r = audio.overlap_add(original, hop), audio.overlap_add(rebuilt, hop)
        signal += float((s.astype(np.float64) ** 2).sum())
        noise += float(((s - r).astype(np.float64) ** 2).sum())
    return 10 * np.log10(signal / noise)


def audio_scores(data_dir, model_path, base_path, hop, seed, out_path):
    """Log-likelihood per frame of the codes, held-out and training, under the HMM and, without
    a temporal model, under a diagonal GMM with as many components as states (with init "gmm",
    the very GMM the HMM started from, so on training codes the HMM cannot score below it) and
    an N(0, I) base on standardised codes; EM's iterations; the autoencoder's reconstruction SNR."""
    model, hmm = load_model(model_path), load_base(base_path)
    data = load_npz(Path(data_dir) / "splits.npz")
    train, test = encode(model, data["x_train"]), encode(model, data["x_test"])
    mean, std = train.mean(0), train.std(0) + 1e-8
    if hmm.init == "gmm":
        gmm_scores, gmm_source = hmm.start_score_samples, "the HMM's starting GMM"
    else:
        gmm = build_base("gmm", {"n_components": min(hmm.n_states, len(train)), "covariance_type": "diag"},
                         seed).fit(train)
        gmm_scores, gmm_source = gmm.score_samples, "a separately fitted diagonal GMM"
    normal = build_base("standard_normal", {}, seed).fit(train)

    def per_frame(codes, lengths):
        return {"hmm": float(hmm.sequence_log_likelihoods(codes, lengths).sum() / len(codes)),
                "gmm": float(gmm_scores(codes).mean()),
                # N(0, I) on standardised codes, with the standardisation's Jacobian
                "standard_normal": float(normal.score_samples((codes - mean) / std).mean() - np.log(std).sum())}

    held_out, training = per_frame(test, data["lengths_test"]), per_frame(train, data["lengths_train"])
    result = {"log_likelihood_per_frame": held_out, "train_log_likelihood_per_frame": training,
              "n_test_frames": int(len(test)), "n_test_sequences": int(len(data["lengths_test"])),
              "gmm_components": hmm.n_states, "gmm_covariance": "diag", "gmm_source": gmm_source,
              "hmm_init": hmm.init, "em_iterations": int(len(hmm.loglik_history_)),
              "em_converged": bool(hmm.converged_),
              "reconstruction_snr_db": float(reconstruction_snr(model, data["x_test"], data["lengths_test"], hop))}
    log.info("log-likelihood per frame, held-out %s, training %s; reconstruction SNR %.2f dB", held_out,
             training, result["reconstruction_snr_db"])
    save_json(out_path, result)


def audio_figures(dataset, data_dir, model_path, wav_path, seconds, hop, spectrogram_paths,
                  reconstruction_paths):
    """Spectrograms of training audio beside generated audio (Figs. 6-8), and the autoencoder's
    reconstruction of a held-out recording beside the original."""
    data = load_npz(Path(data_dir) / "splits.npz")
    n_frames = int(np.ceil(seconds * audio.SAMPLE_RATE / hop))
    training = audio.overlap_add(data["x_train"][:n_frames], hop)  # the first recordings, in order
    generated, _ = audio.read_audio(wav_path)
    plots.spectrograms([training, generated[: len(training)] if len(generated) > len(training) else generated],
                       ["training audio", "generated"], dataset, spectrogram_paths)
    model = load_model(model_path)
    first = data["x_test"][: data["lengths_test"][0]]
    with torch.no_grad():
        rebuilt = model.reconstruct(torch.as_tensor(first)).numpy()
    plots.spectrograms([audio.overlap_add(first, hop), audio.overlap_add(rebuilt, hop)],
                       ["held-out recording", "autoencoder reconstruction"], dataset, reconstruction_paths)


def audio_table(datasets, score_paths, info_paths, table_paths):
    """One row per audio dataset: held-out log-likelihood per frame under each base, and SNR."""
    from iml import tables
    from iml.io import load_json

    rows = []
    for dataset, score_path, info_path in zip(datasets, score_paths, info_paths):
        scores, info = load_json(score_path), load_json(info_path)
        held_out, training = scores["log_likelihood_per_frame"], scores["train_log_likelihood_per_frame"]
        rows.append({"dataset": dataset, "hmm": held_out["hmm"], "gmm": held_out["gmm"],
                     "standard_normal": held_out["standard_normal"], "hmm_train": training["hmm"],
                     "gmm_train": training["gmm"], "gmm_source": scores["gmm_source"],
                     "em_iterations": scores["em_iterations"], "em_converged": scores["em_converged"],
                     "reconstruction_snr_db": scores["reconstruction_snr_db"],
                     "test_frames": scores["n_test_frames"], "data": info["description"]})
    tables.write_table(rows, "Audio: log-likelihood per frame of the autoencoder's codes, held-out and on the "
                       "training codes (_train), under the HMM base and, without a temporal model, a diagonal "
                       "GMM with as many components as states (gmm_source says which) and an N(0, I) base on "
                       "standardised codes; EM iterations run (em_converged: the gain fell below tol); the "
                       "autoencoder's reconstruction SNR on held-out audio.",
                       *table_paths)
