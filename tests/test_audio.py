"""The audio data chain and autoencoder on real FSDD recordings and the violin MP3s."""

import numpy as np
import pytest
import soundfile
import torch

from iml.data import audio, fsdd
from iml.data.download import DownloadError
from iml.models import build_model
from iml.training import seed_everything, train


@pytest.fixture(scope="module")
def recordings(shared_data):
    return shared_data / "fsdd" / "recordings"


def test_chunk_then_overlap_add_reconstructs_a_real_recording(recordings):
    wave, repairs = audio.read_audio(recordings / "7_jackson_32.wav")
    assert repairs == [] and wave.dtype == np.float32
    chunks = audio.chunk_waveform(wave, 800, 400)
    assert chunks.shape[1] == 800
    rebuilt = audio.overlap_add(chunks, 400)
    # the periodic Hann window's copies shifted by half its length sum to one: the interior,
    # where two chunks overlap, comes back exactly
    np.testing.assert_allclose(rebuilt[400 : len(wave) - 400], wave[400 : len(wave) - 400], atol=1e-6)
    np.testing.assert_allclose(audio.hann(800)[:400] + audio.hann(800)[400:], 1.0, atol=1e-6)


def test_stereo_and_other_rates_are_repaired(recordings, tmp_path):
    wave, _ = audio.read_audio(recordings / "3_theo_10.wav")
    stereo = tmp_path / "stereo_44k.wav"
    upsampled = np.interp(np.arange(0, len(wave), 8000 / 44100), np.arange(len(wave)), wave)
    soundfile.write(stereo, np.stack([upsampled, 0.5 * upsampled], 1), 44100)
    fixed, repairs = audio.read_audio(stereo)
    assert repairs == ["mixed 2 channels down to mono", "resampled from 44100 Hz to 8000 Hz"]
    assert abs(len(fixed) - len(wave)) <= 2
    n = min(len(fixed), len(wave))
    assert np.corrcoef(fixed[:n], 0.75 * wave[:n])[0, 1] > 0.99  # the same sound, at 8 kHz


def test_violin_mp3_is_read_mono_at_8khz(shared_data):
    wave, repairs = audio.read_audio(shared_data / "violin" / "john-garner_bwv1002_mov6.mp3")
    assert len(repairs) == 2 and 100 < len(wave) / audio.SAMPLE_RATE < 115  # the movement is 1:45


def test_bad_files_are_refused_by_name(tmp_path, recordings):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
    with pytest.raises(audio.AudioFormatError, match="corrupt.wav: not a readable audio file"):
        audio.read_audio(corrupt)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(4000), 8000)
    with pytest.raises(audio.AudioFormatError, match="silent.wav: silent"):
        audio.check_recording(audio.read_audio(silent)[0], silent, 800)
    short = tmp_path / "short.wav"
    soundfile.write(short, np.full(300, 0.5), 8000)
    with pytest.raises(audio.AudioFormatError, match="short.wav: 300 samples, shorter than one chunk"):
        audio.check_recording(audio.read_audio(short)[0], short, 800)


def test_a_wav_cut_short_or_with_an_absurd_rate_is_refused_by_name(tmp_path, recordings):
    raw = (recordings / "0_george_0.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[: len(raw) // 3])  # the header still promises the whole recording
    with pytest.raises(audio.AudioFormatError, match=r"cut.wav: cut short: the WAV header promises 4768 bytes "
                                                     r"of audio but the file holds 1560"):
        audio.read_audio(cut)
    one_hertz = tmp_path / "one_hertz.wav"
    header = bytearray(raw)
    header[24:32] = (1).to_bytes(4, "little") + (2).to_bytes(4, "little")  # sample rate, byte rate
    one_hertz.write_bytes(bytes(header))
    with pytest.raises(audio.AudioFormatError, match="one_hertz.wav: the header claims a sample rate of 1 Hz"):
        audio.read_audio(one_hertz)
    padded = tmp_path / "padded.wav"  # bytes after the data chunk (a trailing chunk) are no fault
    padded.write_bytes(raw + b"LIST\x04\x00\x00\x00abcd")
    assert len(audio.read_audio(padded)[0]) == 2384


def test_splits_are_speaker_disjoint_and_skip_bad_files(recordings, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ["0_george_0.wav", "0_george_1.wav", "1_george_0.wav", "0_theo_0.wav", "0_theo_1.wav"]:
        (folder / name).write_bytes((recordings / name).read_bytes())
    soundfile.write(folder / "0_lucas_0.wav", np.zeros(4000), 8000)  # silent: skipped, counted
    raw = (recordings / "0_jackson_0.wav").read_bytes()
    (folder / "0_jackson_0.wav").write_bytes(raw[: len(raw) // 3])  # cut short: skipped, counted
    entries = fsdd.recordings(folder, [p.name for p in folder.iterdir()])
    arrays, info = fsdd.make_splits(entries, [0], None, ["theo"], seed=0)
    assert list(arrays["names_train"]) == ["0_george_0.wav", "0_george_1.wav"]
    assert list(arrays["names_test"]) == ["0_theo_0.wav", "0_theo_1.wav"]
    skipped = info["train"]["skipped"]
    assert len(skipped) == 2 and "0_jackson_0.wav: cut short" in skipped[0] and "0_lucas_0.wav" in skipped[1]
    assert arrays["lengths_train"].sum() == len(arrays["x_train"])
    assert np.abs(arrays["x_train"]).max() <= 1.0


def test_fetch_through_the_mirror_checks_every_recording(mirror_url, tmp_path, monkeypatch):
    subset = dict(list(fsdd.manifest().items())[:20])
    monkeypatch.setattr(fsdd, "manifest", lambda: subset)
    fsdd.fetch_fsdd(tmp_path / "rec", mirror=mirror_url, archive=None, retries=1)
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == sorted(subset)
    subset[next(iter(subset))] = "0" * 32  # a recording whose checksum cannot match
    (tmp_path / "rec" / next(iter(subset))).unlink()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fsdd.fetch_fsdd(tmp_path / "rec", mirror=mirror_url, archive=None, retries=1,
                        raw_url=f"{mirror_url}/fsdd")  # GitHub's stand-in has the same file


def test_conv_autoencoder_trains_on_real_chunks(recordings, tmp_path):
    arrays, _ = fsdd.make_splits(fsdd.recordings(recordings, fsdd.manifest()), [5], 40, ["theo"], seed=0)
    seed_everything(0)
    model = build_model("iml_audio", 80, 800, {"channels": [8, 16]})
    x = torch.as_tensor(arrays["x_train"])
    assert model.encode(x).shape == (len(x), 80) and model.reconstruct(x).shape == x.shape
    history = train(model, arrays["x_train"], {"epochs": 4, "batch_size": 64, "lr": 1e-3, "seed": 0},
                    tmp_path / "c.pt", torch.device("cpu"))
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
