"""The speech scores on real FSDD recordings: the voice-activity detector, the spoken-digit
classifier, and the scores of the references and of a run's generated audio."""

import csv

import numpy as np
import pytest

from iml.data import audio, fsdd
from iml.metrics import speech
from iml.metrics.classifier import ClassifierTooWeak

SMALL = {"epochs": 8}


@pytest.fixture(scope="module")
def entries(shared_data):
    return fsdd.recordings(shared_data / "fsdd" / "recordings", fsdd.manifest())


def load(paths):
    return [audio.normalise_peak(audio.read_audio(path)[0]) for path in paths]


@pytest.fixture(scope="module")
def trained(entries):
    """The classifier trained on a seeded half of the training speakers' recordings (all ten
    digits), and the held-out speaker's recordings with their digits."""
    train = [(p, d) for p, d, s in entries if s != "theo"]
    picked = np.random.default_rng(0).choice(len(train), len(train) // 2, replace=False)
    waves = load([train[i][0] for i in picked])
    model, run = speech.train_classifier(waves, [train[i][1] for i in picked], 0, SMALL, "cpu")
    test = [(p, d) for p, d, s in entries if s == "theo"]
    return model, run, load([p for p, _ in test]), np.array([d for _, d in test])


def test_joined_real_recordings_give_about_one_segment_per_recording(entries):
    picked = np.random.default_rng(1).choice(len(entries), 60, replace=False)
    waves = load([entries[i][0] for i in picked])
    segments = speech.vad_segments(np.concatenate(waves))
    # FSDD recordings are trimmed close: joined, a few boundaries leave no gap and two utterances merge
    assert 51 <= len(segments) <= 66, len(segments)
    durations = np.array([(e - b) / audio.SAMPLE_RATE for b, e in segments])
    lengths = np.array([len(w) / audio.SAMPLE_RATE for w in waves])
    # a segment is an utterance, about as long as a recording
    assert 0.7 * np.median(lengths) <= np.median(durations) <= 1.3 * np.median(lengths)
    # a steady tone is one segment, silence none, whatever the scale
    tone = 0.01 * np.sin(np.arange(16000) * 0.3)
    assert len(speech.vad_segments(tone)) == 1 and speech.vad_segments(np.zeros(16000)) == []


def test_the_classifier_recognises_the_held_out_speaker(trained):
    model, run, waves, digits = trained
    assert run["n_train"] == 1250
    accuracy = speech.check_accuracy(model, waves, digits, 0.7)
    assert accuracy > 0.7
    with pytest.raises(ClassifierTooWeak, match="500 held-out recordings, below the required"):
        speech.check_accuracy(model, waves, (digits + 1) % 10, 0.7)  # every label wrong


def test_mel_filterbank_covers_the_spectrum_with_triangles():
    bank = speech.mel_filterbank(256, 40).numpy()
    assert bank.shape == (40, 129) and (bank.max(1) > 0.5).all()  # narrow low filters peak between bins
    centres = bank.argmax(1)
    assert (np.diff(centres) >= 0).all() and (np.diff(centres)[-10:] > np.diff(centres)[:10].mean()).all()


def test_digit_scores_follow_their_definitions():
    sure = np.eye(10)[np.repeat(np.arange(10), 3)]
    scores = speech.digit_scores(sure, digit=4)
    assert scores["recognised"] == pytest.approx(0.1)
    assert scores["inception_score"] == pytest.approx(10.0, rel=1e-6)
    assert scores["class_entropy"] == pytest.approx(np.log(10))
    unsure = speech.digit_scores(np.full((5, 10), 0.1))
    assert unsure["inception_score"] == pytest.approx(1.0) and unsure["recognised"] is None


def test_references_score_in_order(trained, entries):
    """Training recordings of digit 0, joined, are cut into about one segment each, recognised as
    zeros and close to the held-out zeros in features; noise with their spectrum is neither."""
    model, _, waves, digits = trained
    held = [w for w, d in zip(waves, digits) if d == 0]
    real_features = speech.features(model, held)
    real_durations = np.array([(e - b) / audio.SAMPLE_RATE for b, e in speech.vad_segments(np.concatenate(held))])
    zeros = load([p for p, d, s in entries if d == 0 and s != "theo"][:40])
    real = speech.segment_scores(model, speech.cut(np.concatenate(zeros)), real_features, real_durations, digit=0)
    chunks = np.concatenate([audio.chunk_waveform(w) for w in zeros])
    noise_wave = speech.spectrum_noise(chunks, len(chunks), 400, seed=0)
    noise = speech.segment_scores(model, speech.cut(noise_wave), real_features, real_durations, digit=0)
    assert 34 <= real["segments"] <= 44 and real["recognised"] > 0.6  # chance: 0.1
    assert noise["segments"] <= 3  # steady noise: one long segment, not utterances
    assert noise["median_seconds"] > 5 * real["median_seconds"]
    assert noise["duration_w1"] > 10 * real["duration_w1"]
    # noise with the data's spectrum keeps its spectrum: the same average magnitude, within 20%
    shaped = np.abs(np.fft.rfft(audio.chunk_waveform(noise_wave), axis=1)).mean(0)
    target = np.abs(np.fft.rfft(chunks, axis=1)).mean(0)
    assert abs(shaped.sum() / target.sum() - 1) < 0.2


def test_speech_scores_of_a_run_and_the_audio_table(trained, entries, tmp_path):
    """The workflow's step on a small digit-0 run: the generated audio and every reference are
    scored, and the audio table carries the scores and the segment counts."""
    import torch

    from iml.io import load_json, save_json, save_npz
    from iml.steps import aggregate
    from iml.steps import audio as audio_steps
    from iml.steps import speech as steps
    from iml.steps import train as train_steps

    model, run, _, _ = trained
    folder = tmp_path / "fsdd_digit0" / "iml_audio" / "K80" / "seed0"  # the workflow's run layout
    classifier, summary = tmp_path / "classifier.pt", tmp_path / "classifier.json"
    speech.save_classifier(classifier, model, run["settings"])
    save_json(summary, {"test_accuracy": 0.9})
    arrays, info = fsdd.make_splits(entries, [0], 60, ["theo"], seed=0)
    save_npz(tmp_path / "splits.npz", **arrays)
    save_json(tmp_path / "splits.json", info)
    torch.manual_seed(0)
    train_steps.train_model(tmp_path, "iml_audio", 80, {"model": {"channels": [8, 16]},
                                                        "train": {"epochs": 2, "batch_size": 64, "lr": 1e-3}},
                            0, "cpu", tmp_path / "model.pt", tmp_path / "loss.csv", [tmp_path / "loss.png"],
                            tmp_path / "train.ckpt")
    train_steps.fit_base(tmp_path, tmp_path / "model.pt", "hmm",
                         {"n_states": 4, "n_iter": 3, "device": "cpu", "sequence": "per_recording"}, 0,
                         folder / "base.npz", folder / "base.json")
    audio_steps.generate_audio(tmp_path / "model.pt", folder / "base.npz", 5, 400, tmp_path / "gen.wav",
                               tmp_path / "gen.npz")
    steps.speech_scores(tmp_path, tmp_path / "model.pt", tmp_path / "gen.wav", classifier, summary, [0], 400,
                        None, 0, "cpu", folder / "speech_scores.json", run_settings={"seed": 0})
    scores = load_json(folder / "speech_scores.json")
    assert scores["provenance"]["settings_hash"] and scores["provenance"]["versions"]["torch"]
    assert scores["held_out"]["recordings"] == 50 and scores["digit"] == 0
    assert 42 <= scores["held_out"]["segments"] <= 55
    assert scores["training_recordings"]["segments"] >= 40 and scores["training_recordings"]["recognised"] > 0.6
    for name in ("generated", "training_recordings", "reconstructions", "noise"):
        assert set(scores[name]) >= {"segments", "recognised", "fd", "median_seconds", "duration_w1"}, name
    assert scores["noise"]["fd"] is None or scores["training_recordings"]["fd"] < scores["noise"]["fd"]

    audio_steps.audio_scores(tmp_path, tmp_path / "model.pt", folder / "base.npz", 400, folder / "audio_scores.json")
    table = tmp_path / "audio"
    aggregate.audio_table([folder], {"fsdd_digit0": tmp_path / "splits.json"},
                          [table.with_suffix(s) for s in (".csv", ".md", ".tex")])
    with open(table.with_suffix(".csv")) as f:
        rows = {row["algorithm"]: row for row in csv.DictReader(f)}
    run = rows.pop("iml_audio")
    assert run["base"] == "hmm (per_recording)"
    assert int(float(run["segments"])) == scores["generated"]["segments"]
    assert float(run["recognised"]) == pytest.approx(scores["generated"]["recognised"])
    # the references follow the run, each scored as the generated audio is
    target = rows.pop("reference: held-out recordings (the target)")
    assert int(float(target["segments"])) == scores["held_out"]["segments"]
    for source, label in aggregate.SPEECH_REFERENCES.items():
        assert float(rows.pop(label)["recognised"]) == pytest.approx(scores[source]["recognised"]), source
    assert not rows
    assert "90.0% accurate on the held-out speaker" in table.with_suffix(".md").read_text()
