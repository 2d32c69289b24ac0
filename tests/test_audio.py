"""The audio data chain and autoencoder on real FSDD recordings and the violin MP3s."""

import csv

import numpy as np
import pytest
import soundfile
import torch

from iml.data import audio, fsdd
from iml.data.download import DownloadError
from iml.models import load_model
from iml.steps.train import encode
from tests.helpers import assert_kept_the_best_epoch


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


def test_conv_autoencoder_trains_on_real_chunks(fsdd_digit0):
    """The suite's digit-0 autoencoder (tests/conftest.py), trained by the workflow's step: its loss
    fell, and it codes each 800-sample chunk as 80 numbers and decodes them back."""
    _, model_path, arrays = fsdd_digit0
    with open(model_path.parent / "loss.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 4 and losses[-1] < 0.7 * losses[0]
    model = load_model(model_path)
    x = torch.as_tensor(arrays["x_train"][:100])
    assert model.encode(x).shape == (100, 80) and model.reconstruct(x).shape == x.shape


# -- the audio runs: bases fitted by fit_base on real codes, scored, tabulated ---------------------

AUDIO_BASES = {"iml_audio": ("hmm", {"n_states": 4, "n_iter": 5, "device": "cpu", "sequence": "concatenated"}),
               "iml_audio_flow": ("flow", {"hidden_features": [64, 64], "epochs": 20, "batch_size": 64,
                                           "patience": 5, "device": "cpu"}),
               "iml_audio_dpgmm": ("dpgmm", {"max_components": 5})}


@pytest.fixture(scope="module")
def digit0_run(recordings, fsdd_digit0, tmp_path_factory):
    """FSDD digit 0 as the workflow splits it with 60 training recordings (speaker theo held out),
    coded by the suite's digit-0 autoencoder (tests/conftest.py), and the runs of AUDIO_BASES laid
    out as the workflow's (<dataset>/<algorithm>/K80/seed0), each base fitted by fit_base."""
    from iml.io import save_json, save_npz
    from iml.steps import train as steps

    _, model_path, _ = fsdd_digit0
    root = tmp_path_factory.mktemp("results")
    data_dir = root / "data" / "fsdd_digit0"
    arrays, info = fsdd.make_splits(fsdd.recordings(recordings, fsdd.manifest()), [0], 60, ["theo"], seed=0)
    save_npz(data_dir / "splits.npz", **arrays)
    save_json(data_dir / "splits.json", info)
    runs = {}
    for algorithm, (name, settings) in AUDIO_BASES.items():
        runs[algorithm] = run = root / "fsdd_digit0" / algorithm / "K80" / "seed0"
        steps.fit_base(data_dir, model_path, name, settings, 0, run / "base.npz", run / "base.json",
                       validation_fraction=0.1)
    return data_dir, model_path, runs, arrays


def test_held_out_recordings_are_whole_seeded_and_never_all(digit0_run):
    *_, arrays = digit0_run
    lengths = arrays["lengths_train"]
    held, note = audio.hold_out_recordings(lengths, 0.1, seed=3)
    per_recording = np.split(held, np.cumsum(lengths)[:-1])
    assert all(part.all() or not part.any() for part in per_recording)  # whole recordings only
    assert sum(part.all() for part in per_recording) == 6 and note.startswith("6 of the 60 training recordings")
    assert (audio.hold_out_recordings(lengths, 0.1, seed=3)[0] == held).all()
    assert not (audio.hold_out_recordings(lengths, 0.1, seed=4)[0] == held).all()
    one, note = audio.hold_out_recordings([50], 0.1, seed=0)  # the violin: one recording, its last frames
    assert one[-5:].all() and not one[:-5].any() and "last 5 of the 50 frames" in note
    two, _ = audio.hold_out_recordings(lengths[:2], 0.99, seed=0)
    assert two.sum() in lengths[:2]  # of two recordings, one is held out and one kept to fit on, even at 99%
    with pytest.raises(ValueError, match="must be in \\(0, 1\\)"):
        audio.hold_out_recordings(lengths, 1.0, seed=0)


def test_audio_bases_fitted_by_fit_base_are_scored_and_tabulated(digit0_run, tmp_path, one_thread):
    """The flow chooses its epoch on held-out whole recordings; every base's scores per frame are
    finite, the learned frame-wise densities beat the HMM's 4-state starting GMM on the training
    codes, and the audio table has one row per run with the scores of its files."""
    from iml.bases import load_base
    from iml.io import load_json
    from iml.steps import aggregate
    from iml.steps import audio as audio_steps

    data_dir, model_path, runs, arrays = digit0_run
    flow_fit = load_json(runs["iml_audio_flow"] / "base.json")
    assert flow_fit["validation_held_out"].startswith("6 of the 60 training recordings")
    held, _ = audio.hold_out_recordings(arrays["lengths_train"], 0.1, 0)
    codes = encode(load_model(model_path), arrays["x_train"])
    assert flow_fit["n_codes"] == (~held).sum() and flow_fit["n_validation_codes"] == held.sum()
    assert_kept_the_best_epoch(load_base(runs["iml_audio_flow"] / "base.npz"), codes[held])
    assert load_json(runs["iml_audio"] / "base.json")["n_validation_codes"] == 0  # the HMM chooses nothing
    for run in runs.values():
        audio_steps.audio_scores(data_dir, model_path, run / "base.npz", 400, run / "audio_scores.json")
    scores = {a: load_json(run / "audio_scores.json") for a, run in runs.items()}
    for algorithm, s in scores.items():
        assert np.isfinite([s["log_likelihood_per_frame"], s["train_log_likelihood_per_frame"]]).all(), algorithm
        assert s["provenance"]["settings_hash"] and s["reconstruction_snr_db"] > 0
    hmm = scores["iml_audio"]
    assert hmm["hmm_sequence"] == "concatenated"
    assert hmm["train_log_likelihood_per_frame"] >= hmm["start_train_log_likelihood_per_frame"]  # EM never lowers it
    for algorithm in ("iml_audio_flow", "iml_audio_dpgmm"):
        assert scores[algorithm]["train_log_likelihood_per_frame"] > hmm["start_train_log_likelihood_per_frame"]
        assert "start_train_log_likelihood_per_frame" not in scores[algorithm]

    table = tmp_path / "audio"
    aggregate.audio_table(list(runs.values()), {"fsdd_digit0": data_dir / "splits.json"},
                          [table.with_suffix(s) for s in (".csv", ".md", ".tex")])
    with open(table.with_suffix(".csv")) as f:
        rows = {row["algorithm"]: row for row in csv.DictReader(f)}
    assert list(rows) == sorted(runs)  # the paper's model first; no speech scores: no reference rows
    for algorithm, row in rows.items():
        assert float(row["ll"]) == pytest.approx(scores[algorithm]["log_likelihood_per_frame"])
        assert float(row["ll_train"]) == pytest.approx(scores[algorithm]["train_log_likelihood_per_frame"])
        assert row["seeds"] == "0" and row["ll_std"] == ""  # one seed: no spread
    assert rows["iml_audio"]["base"] == "hmm (concatenated)" and rows["iml_audio"]["chose"].startswith("EM 5")
    assert rows["iml_audio_flow"]["chose"] == f"epoch {flow_fit['best_epoch']} of {flow_fit['epochs_run']}"
    caption = table.with_suffix(".md").read_text()
    assert "chosen on 6 of the 60 training recordings" in caption and "fsdd_digit0: labels [0]" in caption
    # published: the summaries copied, the table rebuilt from the copies alone, byte for byte
    from iml import publish

    root = data_dir.parents[1]
    published = tmp_path / "published"
    assert publish.collect(root, published) == sorted(f"fsdd_digit0/{a}/K80/seed0" for a in runs)
    publish.assemble(published, tmp_path / "rebuilt")
    for suffix in (".csv", ".md", ".tex"):
        assert (tmp_path / "rebuilt" / f"audio{suffix}").read_text() == table.with_suffix(suffix).read_text()


def test_the_audio_table_gives_mean_and_std_over_seeds(digit0_run, tmp_path):
    """Two seeds of one run: the table's number is their mean, its _std column their spread."""
    import shutil

    from iml.io import load_json, save_json
    from iml.steps import aggregate
    from iml.steps import audio as audio_steps

    data_dir, model_path, runs, _ = digit0_run
    folders = []
    for seed, shift in ((0, 0.0), (1, 2.0)):
        folder = tmp_path / "fsdd_digit0" / "iml_audio_dpgmm" / "K80" / f"seed{seed}"
        shutil.copytree(runs["iml_audio_dpgmm"], folder, ignore=shutil.ignore_patterns("audio_scores.json"))
        audio_steps.audio_scores(data_dir, model_path, folder / "base.npz", 400, folder / "audio_scores.json")
        scores = load_json(folder / "audio_scores.json")
        scores["log_likelihood_per_frame"] += shift
        save_json(folder / "audio_scores.json", scores)
        folders.append(folder)
    (row,) = aggregate.audio_rows([aggregate.audio_run_record(f) for f in folders])
    base = load_json(folders[0] / "audio_scores.json")["log_likelihood_per_frame"]
    assert row["seeds"] == "0 1" and row["ll"] == pytest.approx(base + 1.0)
    assert row["ll_std"] == pytest.approx(np.sqrt(2.0))
    scores["provenance"]["settings_hash"] = "another"  # seed 1 produced with other settings
    save_json(folders[1] / "audio_scores.json", scores)
    with pytest.raises(ValueError, match="fsdd_digit0/iml_audio_dpgmm: refusing to pool seeds"):
        aggregate.audio_rows([aggregate.audio_run_record(f) for f in folders])


@pytest.mark.parametrize("damage", ["cut", "zeroed"])
def test_a_truncated_or_damaged_mp3_is_refused_by_name(shared_data, tmp_path, damage):
    """The violin cut to 600 kB was read as 37.4 of the header's 108.3 s; 400 bytes zeroed mid-file
    stopped the decoder at 12.5 s (saying so only on stderr). Both were trained on."""
    raw = bytearray((shared_data / "violin" / "john-garner_bwv1002_mov6.mp3").read_bytes())
    if damage == "cut":
        raw = raw[:600_000]
    else:
        raw[len(raw) // 2 : len(raw) // 2 + 400] = bytes(400)
    path = tmp_path / f"{damage}.mp3"
    path.write_bytes(bytes(raw))
    with pytest.raises(audio.AudioFormatError, match=rf"{damage}.mp3: damaged or truncated: the header promises "
                                                     r"\d+ samples \(108.\d s\) but \d+ \(\d+.\d s\) could be decoded"):
        audio.read_audio(path)


def test_a_sample_far_beyond_full_scale_is_refused_by_name(tmp_path):
    """A 0.5-amplitude tone with one sample of 1e30 was accepted, and peak normalisation scaled the
    tone to about 1e-31."""
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    loud = tone.copy()
    loud[4000] = 1e30
    soundfile.write(tmp_path / "spike.wav", loud.astype(np.float32), 8000, subtype="FLOAT")
    with pytest.raises(audio.AudioFormatError, match=r"spike.wav: 1 sample\(s\) far beyond full scale \(peak 1e\+30"):
        audio.read_audio(tmp_path / "spike.wav")
    hot = tone * 3  # a float file somewhat past full scale is sound, not damage
    soundfile.write(tmp_path / "hot.wav", hot.astype(np.float32), 8000, subtype="FLOAT")
    np.testing.assert_allclose(audio.read_audio(tmp_path / "hot.wav")[0], hot, atol=1e-6)


def test_a_wav_whose_data_length_field_is_zero_is_called_damaged(tmp_path, recordings):
    """It was reported as '0 samples, shorter than one chunk' while the file holds 2 s of audio."""
    raw = bytearray((recordings / "0_george_0.wav").read_bytes())
    at = raw.index(b"data") + 4
    raw[at : at + 4] = bytes(4)
    (tmp_path / "zero_length.wav").write_bytes(bytes(raw))
    with pytest.raises(audio.AudioFormatError, match=r"zero_length.wav: damaged header: the WAV data chunk's length "
                                                     r"field is 0 but 4768 bytes of audio follow it"):
        audio.read_audio(tmp_path / "zero_length.wav")


def test_a_violin_too_short_to_train_on_is_refused_at_the_split(shared_data, tmp_path):
    """One chunk of violin gave an empty training split, which failed later with 'no training examples'."""
    from iml.data import violin

    wave, _ = audio.read_audio(shared_data / "violin" / "john-garner_bwv1002_mov6.mp3")
    for n in (800, 1201):
        soundfile.write(tmp_path / f"violin_{n}.wav", wave[len(wave) // 2 : len(wave) // 2 + n], 8000)
    with pytest.raises(audio.AudioFormatError, match=r"violin_800.wav: 800 samples \(0.10 s\) make 1 chunk\(s\), 1 of "
                                                     r"them held out .*needs at least 1201 samples \(0.15 s\)"):
        violin.make_splits(tmp_path / "violin_800.wav", 0.1)
    arrays, _ = violin.make_splits(tmp_path / "violin_1201.wav", 0.1)
    assert len(arrays["x_train"]) == 2 and len(arrays["x_test"]) == 1


def test_upper_case_wav_files_are_taken(recordings, tmp_path):
    """A recordings folder's *.WAV files were ignored without a word."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "zero_ann_0.WAV").write_bytes((recordings / "0_george_0.wav").read_bytes())
    (folder / "zero_ann_1.wav").write_bytes((recordings / "0_george_1.wav").read_bytes())
    entries = fsdd.user_recordings(folder)
    assert [(p.name, label, speaker) for p, label, speaker in entries] == [
        ("zero_ann_0.WAV", "zero", "ann"), ("zero_ann_1.wav", "zero", "ann")]


def test_fft_convolution_matches_direct_convolution_on_real_chunks(recordings):
    """The paper-size autoencoder computed through the FFT gives the direct convolutions'
    reconstruction and gradients (same parameters), and a different stride still matches."""
    from iml.models.audio import ConvAutoencoder, FFTConv1d, FFTConvTranspose1d

    wave, _ = audio.read_audio(recordings / "0_jackson_0.wav")
    x = torch.as_tensor(audio.chunk_waveform(wave, 800, 400)[:16], dtype=torch.float64)
    torch.manual_seed(0)
    direct = ConvAutoencoder(convolution="direct").double()
    fft = ConvAutoencoder(convolution="fft").double()
    fft.load_state_dict(direct.state_dict())
    losses = [model.training_loss(x) for model in (direct, fft)]
    for loss in losses:
        loss.backward()
    torch.testing.assert_close(fft.reconstruct(x), direct.reconstruct(x), rtol=1e-9, atol=1e-12)
    for (name, a), b in zip(direct.named_parameters(), fft.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-8, atol=1e-12, msg=name)
    conv = torch.nn.Conv1d(3, 5, 7, stride=3).double()
    fft_conv = FFTConv1d(3, 5, 7, stride=3).double()
    fft_conv.load_state_dict(conv.state_dict())
    y = x[:4, None, :100].repeat(1, 3, 1)
    torch.testing.assert_close(fft_conv(y), conv(y))
    up = torch.nn.ConvTranspose1d(5, 3, 7, stride=3, output_padding=2).double()
    fft_up = FFTConvTranspose1d(5, 3, 7, stride=3, output_padding=2).double()
    fft_up.load_state_dict(up.state_dict())
    torch.testing.assert_close(fft_up(conv(y)), up(conv(y)))
    with pytest.raises(ValueError, match="convolution must be one of"):
        ConvAutoencoder(convolution="winograd")


def test_the_upsample_decoder_has_no_stride_pattern():
    """A constant fed to the last decoder stage: the paper's stride-2 transposed convolution (zeros
    between samples) answers with a period-2 pattern, a tone at half the sample rate; linear
    upsampling then the same filter at stride 1 answers with a constant. Same lengths, same
    parameter count, FFT and direct convolution agree."""
    from iml.models.audio import ConvAutoencoder

    torch.manual_seed(0)
    models = {d: ConvAutoencoder(decoder=d).double() for d in ("transposed", "upsample")}
    assert len({sum(p.numel() for p in m.parameters()) for m in models.values()}) == 1
    steady = {}
    for name, model in models.items():
        last = model.decoder[-1]
        out = last(torch.ones(1, 64, 301, dtype=torch.float64))[0, 0, 250:550]  # away from the edges
        assert out.shape == (300,)
        steady[name] = float(out.std() / out.abs().mean())
    assert steady["upsample"] < 1e-9 < 0.05 < steady["transposed"]
    direct = ConvAutoencoder(decoder="upsample", convolution="direct").double()
    direct.load_state_dict(models["upsample"].state_dict())
    x = torch.randn(4, 800, dtype=torch.float64)
    torch.testing.assert_close(direct.reconstruct(x), models["upsample"].reconstruct(x))
    assert models["upsample"].reconstruct(x).shape == x.shape
    with pytest.raises(ValueError, match="decoder must be one of"):
        ConvAutoencoder(decoder="nearest")
