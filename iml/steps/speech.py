"""The speech scores' steps: the spoken-digit classifier trained on FSDD, and the speech scores of
a run's generated audio beside the same scores of its references."""

import logging
from pathlib import Path

import numpy as np

from iml.data import audio, fsdd, load_audio_splits
from iml.device import pick_device
from iml.io import load_json, save_json
from iml.metrics import speech
from iml.models import load_model
from iml.provenance import provenance
from iml.steps.audio import reconstruct, waves

log = logging.getLogger("iml")

CLASSIFIER_KEYS = ("held_out_speakers", "seed", "accuracy_bar")  # not the model's or training's settings


def fsdd_split(listing, held_out_speakers):
    """The download's FSDD recordings as ((waves, digits) of the training speakers, (waves, digits)
    of the held-out speakers), each wave scaled to peak 1 as the audio datasets are."""
    entries = fsdd.recordings(Path(listing).parent / "recordings", fsdd.read_listing(Path(listing).read_text()))
    unknown = set(held_out_speakers) - {speaker for _, _, speaker in entries}
    if unknown:
        raise ValueError(f"audio.speech.classifier.held_out_speakers: {sorted(unknown)} not FSDD speakers")
    split = {True: ([], []), False: ([], [])}
    for path, digit, speaker in entries:
        wave, _ = audio.read_audio(path)
        held = split[speaker in held_out_speakers]
        held[0].append(audio.normalise_peak(wave))
        held[1].append(digit)
    return split[False], split[True]


def train_speech_classifier(listing, settings, device, model_path, summary_path):
    """The spoken-digit classifier, trained on the training speakers' recordings of all ten digits;
    fails (writing nothing) when its accuracy on the held-out speakers is below accuracy_bar."""
    (x_train, y_train), (x_test, y_test) = fsdd_split(listing, settings["held_out_speakers"])
    model_settings = {k: v for k, v in settings.items() if k not in CLASSIFIER_KEYS}
    model, run = speech.train_classifier(x_train, y_train, settings["seed"], model_settings, pick_device(device))
    log.info("spoken-digit classifier trained on %d recordings in %.1f s (%.1f CPU s) on %s", len(x_train),
             run["seconds"], run["cpu_seconds"], run["device"])
    acc = speech.check_accuracy(model, x_test, y_test, settings["accuracy_bar"])
    log.info("spoken-digit classifier: %.2f%% on the %d recordings of %s (bar %.2f%%)", 100 * acc, len(x_test),
             settings["held_out_speakers"], 100 * settings["accuracy_bar"])
    speech.save_classifier(model_path, model, run["settings"])
    save_json(summary_path, {**run, "test_accuracy": acc, "accuracy_bar": settings["accuracy_bar"],
                             "n_test": len(x_test), "held_out_speakers": settings["held_out_speakers"]})


def references(data, model, n_noise_frames, hop, seed):
    """The audio every generated recording is compared with, each joined into one long recording
    as the generated audio is: training recordings (a seeded pick, as many as the held-out ones:
    the floor), the autoencoder's reconstructions of the held-out recordings (the decoder's
    ceiling) and noise with the training chunks' average spectrum (as long as the generated audio)."""
    train = waves(data["x_train"], data["lengths_train"], hop)
    n = min(len(train), len(data["lengths_test"]))
    picked = np.sort(np.random.default_rng(seed).choice(len(train), n, replace=False))
    rebuilt = waves(reconstruct(model, data["x_test"]), data["lengths_test"], hop)
    return {"training_recordings": np.concatenate([train[i] for i in picked]),
            "reconstructions": np.concatenate(rebuilt),
            "noise": speech.spectrum_noise(data["x_train"], n_noise_frames, hop, seed)}


def speech_scores(data_dir, model_path, wav_path, classifier_path, classifier_summary, digits, hop, vad, seed,
                  device, out_path, run_settings=None):
    """The speech scores (iml.metrics.speech.segment_scores) of a run's generated audio and of its
    references, each cut into segments by the VAD; the Fréchet distance against the held-out
    recordings (whole), durations against the held-out recordings joined and cut alike."""
    data = load_audio_splits(data_dir)
    classifier = speech.load_classifier(classifier_path, pick_device(device))
    held_out = waves(data["x_test"], data["lengths_test"], hop)
    real_segments = speech.cut(np.concatenate(held_out), vad)
    real_durations = np.array([len(s) / audio.SAMPLE_RATE for s in real_segments])
    real_features = speech.features(classifier, held_out)
    digit = digits[0] if digits is not None and len(digits) == 1 else None
    generated, _ = audio.read_audio(wav_path)
    sources = {"generated": generated,
               **references(data, load_model(model_path), len(generated) // hop, hop, seed)}
    result = {name: {**speech.segment_scores(classifier, speech.cut(wave, vad), real_features, real_durations,
                                             digit), "seconds": len(wave) / audio.SAMPLE_RATE}
              for name, wave in sources.items()}
    result["held_out"] = {"recordings": len(held_out), "segments": len(real_segments),
                          "median_seconds": float(np.median(real_durations)) if len(real_durations) else None}
    result.update(digit=digit, vad={**speech.VAD_DEFAULTS, **(vad or {})},
                  classifier_accuracy=load_json(classifier_summary)["test_accuracy"],
                  provenance=provenance(run_settings, pick_device(device)))
    log.info("speech scores: %s", {k: v for k, v in result.items() if isinstance(v, dict)})
    save_json(out_path, result)
