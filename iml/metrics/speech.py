"""Speech scores of audio: a spoken-digit classifier on log-mel features and an energy voice
activity detector (VAD) that cuts a long recording into utterance segments.

The classifier is the audio stand-in for MNIST's feature classifier: trained on the training
speakers' FSDD recordings of all ten digits, scored on the held-out speaker. Its penultimate layer
is the feature space of the Fréchet distance. Log-mel features are computed in torch (torch.stft
and a triangular mel filterbank built here), so nothing beyond torch is needed.
"""

import logging
import pickle

import numpy as np
import torch
from torch import nn

from iml.data import audio
from iml.device import pick_device
from iml.io import atomic_path
from iml.metrics.classifier import ClassifierTooWeak, fit_classifier

log = logging.getLogger(__name__)

# as config.yaml audio.speech.classifier (the workflow passes its own)
DEFAULTS = {"n_fft": 256, "hop": 160, "n_mels": 40, "seconds": 1.0, "channels": [16, 32, 32], "features": 64,
            "epochs": 20, "batch_size": 64, "lr": 3e-3, "shift": 0.1}
MODEL_KEYS = ("n_fft", "hop", "n_mels", "seconds", "channels", "features")  # what rebuilds a saved model
LOG_FLOOR = 1e-6  # added to the mel power before the log: silence stays finite
VAD_DEFAULTS = {"frame_seconds": 0.02, "drop_db": 20.0, "min_speech_seconds": 0.1, "min_gap_seconds": 0.02,
                "pad_seconds": 0.08}
SILENCE_DB = 20 * np.log10(audio.SILENCE_PEAK)  # frames quieter than a silent recording's peak are never voiced


# -- features -------------------------------------------------------------------------------------


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(n_fft, n_mels, rate=audio.SAMPLE_RATE):
    """(n_mels, n_fft // 2 + 1) triangular filters, centres evenly spaced on the (HTK) mel scale
    from 0 Hz to the Nyquist frequency, each peaking at 1."""
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(rate / 2), n_mels + 2))
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)
    return torch.as_tensor(np.clip(np.minimum(rising, falling), 0.0, None), dtype=torch.float32)


def fixed_length(waves, n_samples):
    """Each wave scaled to peak 1 and centred in n_samples (zero-padded, or its middle kept): the
    classifier's input, (N, n_samples) float32."""
    out = np.zeros((len(waves), n_samples), dtype=np.float32)
    for i, wave in enumerate(waves):
        wave = np.asarray(wave, dtype=np.float32)
        peak = np.abs(wave).max() if len(wave) else 0.0
        if peak > 0:
            wave = wave / peak
        if len(wave) > n_samples:
            start = (len(wave) - n_samples) // 2
            out[i] = wave[start : start + n_samples]
        else:
            start = (n_samples - len(wave)) // 2
            out[i, start : start + len(wave)] = wave
    return out


class LogMel(nn.Module):
    """Waves (N, samples) -> log mel power (N, 1, n_mels, frames)."""

    def __init__(self, n_fft, hop, n_mels):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("filters", mel_filterbank(n_fft, n_mels), persistent=False)

    def forward(self, x):
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, return_complex=True)
        return torch.log(self.filters @ spec.abs().square() + LOG_FLOOR)[:, None]


class DigitClassifier(nn.Module):
    """Log-mel features, conv 3x3 + ReLU + 2x2 max-pool stages, average-pooled to 4 x 4, a
    `features`-unit penultimate layer (`body`), 10 logits."""

    def __init__(self, n_fft=256, hop=80, n_mels=40, seconds=1.0, channels=(16, 32, 64), features=64):
        super().__init__()
        self.n_samples = int(round(seconds * audio.SAMPLE_RATE))
        layers, previous = [LogMel(n_fft, hop, n_mels), nn.BatchNorm2d(1)], 1
        for width in channels:
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            previous = width
        layers += [nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(previous * 16, features), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(features, 10)

    def forward(self, x):
        return self.head(self.body(x))


def _shifted(x, fraction, generator):
    """Each wave moved by its own random offset of up to `fraction` of its length either way
    (zeros fill in): the VAD's segments are not centred the way whole recordings are."""
    limit = int(fraction * x.shape[1])
    if not limit:
        return x
    offsets = torch.randint(-limit, limit + 1, (len(x),), generator=generator)
    index = (torch.arange(x.shape[1])[None, :] - offsets[:, None])
    inside = (index >= 0) & (index < x.shape[1])
    return torch.where(inside, x.gather(1, index.clamp(0, x.shape[1] - 1)), torch.zeros(()))


def train_classifier(waves, labels, seed, settings=None, device=None):
    """A DigitClassifier trained with Adam (cosine-decayed rate) on recordings `waves` (a list of
    1-D arrays at 8 kHz) with digit `labels`, shuffled and shifted by `seed`. Returns the model (in
    eval mode, on `device`) and a dict of what was done."""
    settings = {**DEFAULTS, **(settings or {})}
    device = device or pick_device()
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(y) != len(waves):
        raise ValueError(f"{len(waves)} training recordings but {len(y)} labels")
    torch.manual_seed(seed)
    model = DigitClassifier(**{k: settings[k] for k in MODEL_KEYS}).to(device)
    x = torch.as_tensor(fixed_length(waves, model.n_samples))
    return fit_classifier(model, x, y, settings, seed, _shifted, "digit classifier")


def _outputs(model, waves, fn, batch_size=256):
    device = next(model.parameters()).device
    x = torch.as_tensor(fixed_length(waves, model.n_samples))
    with torch.no_grad():
        return torch.cat([fn(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]).numpy()


def probabilities(model, waves):
    """Class probabilities (N, 10) of each wave."""
    return _outputs(model.eval(), waves, lambda b: torch.softmax(model(b), 1))


def features(model, waves):
    """Penultimate-layer activations (N, features) of each wave."""
    return _outputs(model.eval(), waves, model.body)


def check_accuracy(model, waves, labels, bar):
    """The accuracy on (waves, labels), or ClassifierTooWeak when it is below `bar`."""
    acc = float((probabilities(model, waves).argmax(1) == np.asarray(labels)).mean())
    if acc < bar:
        raise ClassifierTooWeak(f"the spoken-digit classifier reaches {acc:.2%} accuracy on the {len(waves)} "
                                f"held-out recordings, below the required {bar:.2%}: its scores would not be "
                                "trusted (train longer: audio.speech.classifier.epochs)")
    return acc


def save_classifier(path, model, settings):
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "settings": {k: settings[k] for k in MODEL_KEYS}}, tmp)


def load_classifier(path, device="cpu"):
    try:  # weights_only: a planted file cannot run code while it is read
        saved = torch.load(path, map_location=device, weights_only=True)
        model = DigitClassifier(**saved["settings"])
        model.load_state_dict(saved["state_dict"])
    except (pickle.UnpicklingError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: not a spoken-digit classifier written by save_classifier ({err})") from err
    return model.to(device).eval()


# -- voice activity -------------------------------------------------------------------------------


def vad_segments(wave, settings=None, rate=audio.SAMPLE_RATE):
    """(start, end) sample indices of the voiced segments of `wave`: frames of frame_seconds whose
    energy is within drop_db of the loud frames' (the 99th percentile of frame energies), runs of
    them closer than min_gap_seconds merged, runs shorter than min_speech_seconds dropped, and each
    run widened by pad_seconds on both sides (a hangover: the soft onsets and endings below the
    threshold belong to the word). The threshold follows the wave's own level, so a recording's
    scale does not matter."""
    s = {**VAD_DEFAULTS, **(settings or {})}
    frame = int(round(s["frame_seconds"] * rate))
    n = len(wave) // frame
    if n == 0:
        return []
    energy = (np.asarray(wave[: n * frame], dtype=np.float64).reshape(n, frame) ** 2).mean(1)
    level = 10 * np.log10(energy + 1e-12)
    voiced = (level >= np.percentile(level, 99) - s["drop_db"]) & (level > SILENCE_DB)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(int), [0]])))
    runs = edges.reshape(-1, 2).tolist()  # [first frame, frame after]
    merged = []
    for begin, end in runs:
        if merged and (begin - merged[-1][1]) * frame < s["min_gap_seconds"] * rate:
            merged[-1][1] = end
        else:
            merged.append([begin, end])
    pad = int(round(s["pad_seconds"] * rate))
    return [(max(0, b * frame - pad), min(len(wave), e * frame + pad)) for b, e in merged
            if (e - b) * frame >= s["min_speech_seconds"] * rate]


def cut(wave, settings=None):
    """The voiced segments of `wave` as a list of arrays."""
    return [wave[b:e] for b, e in vad_segments(wave, settings)]


# -- the scores ------------------------------------------------------------------------------------


def digit_scores(probs, digit=None):
    """From class probabilities (N, 10): the share recognised as `digit` (single-digit data), the
    entropy (nats) of the mean class distribution, and the inception score exp E[KL(p(y|x) || p(y))]."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = probs.mean(0)
    kl = (probs * (np.log(probs) - np.log(marginal))).sum(1)
    return {"recognised": None if digit is None else float((probs.argmax(1) == digit).mean()),
            "class_entropy": float(-(marginal * np.log(marginal)).sum()),
            "inception_score": float(np.exp(kl.mean()))}


def segment_scores(model, segments, real_features, real_durations, digit=None):
    """Every speech score of one set of segments: their count, digit scores, the Fréchet distance
    of their classifier features to `real_features` (None with fewer than 2 segments), and the
    median of their durations (s) with its Wasserstein-1 distance to `real_durations`."""
    from scipy.stats import wasserstein_distance

    from iml.metrics.sample_quality import frechet_distance

    durations = np.array([len(s) / audio.SAMPLE_RATE for s in segments])
    out = {"segments": len(segments), "recognised": None, "class_entropy": None, "inception_score": None,
           "fd": None, "median_seconds": None, "duration_w1": None}
    if not segments:
        return out
    out.update(digit_scores(probabilities(model, segments), digit))
    if len(segments) >= 2:
        out["fd"] = frechet_distance(real_features, features(model, segments))
    out.update(median_seconds=float(np.median(durations)),
               duration_w1=float(wasserstein_distance(durations, real_durations)))
    return out


def spectrum_noise(chunks, n_frames, hop, seed):
    """Noise with the data's average spectrum: n_frames chunks of Gaussian noise shaped by the mean
    magnitude spectrum of `chunks` (windowed data chunks), windowed alike and overlap-added."""
    magnitude = np.sqrt((np.abs(np.fft.rfft(chunks, axis=1)) ** 2).mean(0))
    rng = np.random.default_rng(seed)
    size = chunks.shape[1]
    phases = rng.standard_normal((n_frames, len(magnitude))) + 1j * rng.standard_normal((n_frames, len(magnitude)))
    noise = np.fft.irfft(magnitude * phases / np.sqrt(2), n=size, axis=1) * audio.hann(size)
    return audio.overlap_add(noise.astype(np.float32), hop)
