"""Audio in, arrays out: reading (mono, 8 kHz), chunking with a Hann window, overlap-add; and
`preprocess`, every audio dataset's workflow step, whatever its source kind (iml.data.AUDIO_SOURCES).

Every file is checked where it enters: an unreadable or silent file is refused by name; stereo
and other sample rates are repaired (mixed down, resampled) and the repair is reported.
"""

import logging
import os
import struct
from math import gcd

import numpy as np
import soundfile

from iml.io import atomic_path, save_json, save_npz

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
SILENCE_PEAK = 1e-4  # peak amplitude (full scale 1) below which a recording counts as silent
# peak amplitude beyond which a float sample is damage, not sound: float files may go a little past
# full scale 1, but one sample far beyond it would shrink the rest of the recording to nothing
# under peak normalisation
DAMAGE_PEAK = 16.0
FILE_RATES = (1000, 768_000)  # sample rates (Hz) believed; outside, the header is broken, not the audio


class AudioFormatError(ValueError):
    pass


def check_wav_length(path):
    """Refuse a RIFF WAV whose header promises more audio than the file holds (cut short):
    libsndfile would silently read what is there."""
    with open(path, "rb") as f:
        head, size = f.read(12), os.fstat(f.fileno()).st_size
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:] != b"WAVE":
            return  # not a WAV: libsndfile checks its own formats
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk, length = struct.unpack("<4sI", f.read(8))
            if chunk == b"data":
                held = size - pos - 8
                if length == 0 and held > 0:  # libsndfile would read no samples at all
                    raise AudioFormatError(f"{path}: damaged header: the WAV data chunk's length field is 0 but "
                                           f"{held} bytes of audio follow it")
                if length not in (0, 0xFFFFFFFF) and length > held:  # 0, 0xFFFFFFFF: streamed / RF64
                    raise AudioFormatError(f"{path}: cut short: the WAV header promises {length} bytes of audio "
                                           f"but the file holds {held}")
                return
            pos += 8 + length + (length & 1)


def read_audio(path, rate=SAMPLE_RATE):
    """A mono float32 waveform at `rate`, and the list of repairs made (mix-down, resampling)."""
    try:
        check_wav_length(path)
        info = soundfile.info(str(path))
        file_rate = info.samplerate
        if not FILE_RATES[0] <= file_rate <= FILE_RATES[1]:  # checked before resampling blows it up
            raise AudioFormatError(f"{path}: the header claims a sample rate of {file_rate} Hz, outside "
                                   f"{FILE_RATES[0]}..{FILE_RATES[1]} Hz")
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as err:
        if isinstance(err, AudioFormatError):
            raise
        raise AudioFormatError(f"{path}: not a readable audio file ({err})") from err
    check_decoded(data, info.frames, file_rate, path)
    repairs = []
    if data.shape[1] > 1:
        repairs.append(f"mixed {data.shape[1]} channels down to mono")
        data = data.mean(axis=1, keepdims=True)
    wave = data[:, 0]
    if file_rate != rate:
        # polyphase resampling with scipy's anti-aliasing FIR filter
        from scipy.signal import resample_poly

        g = gcd(int(file_rate), rate)
        wave = resample_poly(wave, rate // g, int(file_rate) // g).astype(np.float32)
        repairs.append(f"resampled from {file_rate} Hz to {rate} Hz")
    return wave, repairs


def check_decoded(data, header_frames, rate, path):
    """Refuse audio the decoder read only part of (a truncated or damaged MP3: the decoder stops at
    the damage and says so only on stderr), and samples that are not finite or far beyond full scale."""
    if header_frames > 0 and len(data) != header_frames:
        raise AudioFormatError(f"{path}: damaged or truncated: the header promises {header_frames} samples "
                               f"({header_frames / rate:.1f} s) but {len(data)} ({len(data) / rate:.1f} s) "
                               "could be decoded")
    if not np.isfinite(data).all():
        raise AudioFormatError(f"{path}: holds NaN or inf samples")
    beyond = np.abs(data) > DAMAGE_PEAK
    if beyond.any():
        raise AudioFormatError(f"{path}: {int(beyond.sum())} sample(s) far beyond full scale (peak "
                               f"{np.abs(data).max():.3g}, more than {DAMAGE_PEAK:g} times full scale 1): "
                               "a damaged float file")


def check_recording(wave, path, min_samples):
    """Refuse (by name) recordings too short for one chunk, or silent."""
    if len(wave) < min_samples:
        raise AudioFormatError(f"{path}: {len(wave)} samples, shorter than one chunk of {min_samples}")
    if np.abs(wave).max() < SILENCE_PEAK:
        raise AudioFormatError(f"{path}: silent (peak amplitude {np.abs(wave).max():.2g})")


def normalise_peak(wave):
    """Scale a recording to peak amplitude 1, so loud and quiet speakers weigh alike."""
    return wave / np.abs(wave).max()


def hann(size):
    """The periodic Hann window: its copies shifted by size/2 sum to exactly 1."""
    from scipy.signal import get_window  # here: scipy.signal costs a second of start-up

    return get_window("hann", size, fftbins=True).astype(np.float32)


def chunk_waveform(wave, size=800, hop=400, window="hann"):
    """Overlapping chunks (n, size), each multiplied by the window; the end is zero-padded so
    every sample falls in a chunk."""
    n = max(1, int(np.ceil((len(wave) - size) / hop)) + 1)
    padded = np.zeros((n - 1) * hop + size, dtype=np.float32)
    padded[: len(wave)] = wave
    frames = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop]
    taper = hann(size) if window == "hann" else np.ones(size, dtype=np.float32)
    return frames * taper


def overlap_add(chunks, hop=400):
    """Sum chunks placed `hop` samples apart (the inverse of chunk_waveform's framing for a
    window whose shifted copies sum to one)."""
    n, size = chunks.shape
    out = np.zeros((n - 1) * hop + size, dtype=np.float64)
    for i, chunk in enumerate(chunks):
        out[i * hop : i * hop + size] += chunk
    return out.astype(np.float32)


def write_wav(path, wave, rate=SAMPLE_RATE):
    """A 16-bit PCM WAV, clipped to full scale, written atomically."""
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), np.clip(wave, -1, 1), rate, subtype="PCM_16", format="WAV")


def hold_out_recordings(lengths, fraction, seed):
    """Split a split's frames (recordings of `lengths` frames, back to back) into frames to fit on
    and frames held out for a base's choices, by whole recordings: a seeded `fraction` of them (at
    least one, and at least one left). A single recording (the violin piece) cannot be split so:
    its last `fraction` of frames is held out instead. Returns (held-out frame mask, a sentence
    saying what was held out)."""
    lengths = np.asarray(lengths, dtype=int)
    if not 0 < fraction < 1:
        raise ValueError(f"the fraction of training recordings held out must be in (0, 1), got {fraction}")
    if len(lengths) == 0 or lengths.sum() < 2:
        raise ValueError(f"{int(lengths.sum())} training frames in {len(lengths)} recordings: too few to hold any out")
    if len(lengths) == 1:
        n_held = min(max(1, int(round(fraction * lengths[0]))), int(lengths[0]) - 1)
        held = np.zeros(lengths[0], dtype=bool)
        held[-n_held:] = True
        return held, f"the last {n_held} of the {lengths[0]} frames of the one training recording"
    n_held = min(max(1, int(round(fraction * len(lengths)))), len(lengths) - 1)
    chosen = np.zeros(len(lengths), dtype=bool)
    chosen[np.random.default_rng(seed).choice(len(lengths), n_held, replace=False)] = True
    held = np.repeat(chosen, lengths)
    return held, (f"{n_held} of the {len(lengths)} training recordings ({held.sum()} of {len(held)} frames), "
                  f"drawn with seed {seed}")


def kept_lengths(lengths, held):
    """The recordings' lengths once the frames of `held` (hold_out_recordings' mask) are taken out;
    recordings left empty are dropped."""
    kept = np.add.reduceat(~np.asarray(held), np.cumsum(np.concatenate([[0], lengths[:-1]])).astype(int))
    return kept[kept > 0]


def preprocess(dataset, inputs, settings, chunk, splits_path, info_path):
    """The workflow step: an audio dataset's chunks, their recordings' lengths and names into
    splits.npz, what the split is into splits.json, made by its source kind's function
    (settings["source"], iml.data.AUDIO_SOURCES; `inputs`: the raw input that kind reads)."""
    from iml.data import audio_source

    arrays, info = audio_source(settings["source"])(inputs, settings, chunk)
    log.info("%s: %s; train %d chunks, test %d chunks", dataset, info["description"],
             len(arrays["x_train"]), len(arrays["x_test"]))
    save_npz(splits_path, **arrays)
    save_json(info_path, info)
