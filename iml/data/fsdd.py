"""The Free Spoken Digit Dataset: per-recording checksums, fetching, selection and splits."""

import logging
import re
import tarfile
import tempfile
import zipfile
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np

from iml.data import audio
from iml.data.download import DownloadError, fetch, md5sum

log = logging.getLogger(__name__)

COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
RAW_URL = f"https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/{COMMIT}"
ARCHIVE_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{COMMIT}.zip"
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def manifest():
    """{file name: md5} of the 3000 recordings at the pinned commit."""
    text = resources.files("iml.data").joinpath("fsdd_md5.txt").read_text()
    return {name: md5 for md5, name in (line.split() for line in text.splitlines() if line)}


def _verified(path, md5):
    return path.exists() and md5sum(path) == md5


def _extract_archive(archive, dest):
    """Copy the recordings out of a release archive (zip or tar) into dest."""
    opener = zipfile.ZipFile if zipfile.is_zipfile(archive) else tarfile.open
    with opener(archive) as bundle:
        names = bundle.namelist() if hasattr(bundle, "namelist") else bundle.getnames()
        for member in names:
            if "/recordings/" in member and member.endswith(".wav"):
                data = bundle.read(member) if hasattr(bundle, "read") else bundle.extractfile(member).read()
                (dest / Path(member).name).write_bytes(data)


def fetch_fsdd(dest, mirror=None, archive=None, retries=3, timeout=60):
    """All recordings into `dest`, each checked against its md5.

    From a release archive when `archive` (a path or URL) is given, else file by file from the
    mirror (`<mirror>/fsdd/recordings/<name>`), then from GitHub at the pinned commit.
    Archives are not byte-stable on GitHub, so the recordings, not the archive, are checked.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    expected = manifest()
    if archive:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "fsdd-archive"
            if "://" in str(archive):
                import urllib.request

                urllib.request.urlretrieve(str(archive), local)
            else:
                local = Path(archive)
            _extract_archive(local, dest)
    missing = [name for name, md5 in expected.items() if not _verified(dest / name, md5)]
    log.info("FSDD: %d of %d recordings to fetch", len(missing), len(expected))
    for name in missing:
        fetch(f"recordings/{name}", dest / name, expected[name], "fsdd", [RAW_URL], mirror=mirror,
              retries=retries, timeout=timeout)
    bad = [name for name, md5 in expected.items() if not _verified(dest / name, md5)]
    if bad:
        raise DownloadError(f"{dest}: {len(bad)} recordings fail their checksum, e.g. {bad[:3]}")


def parse_name(name):
    match = NAME.match(name)
    if not match:
        raise ValueError(f"{name}: not an FSDD name ({{digit}}_{{speaker}}_{{index}}.wav)")
    return int(match.group(1)), match.group(2), int(match.group(3))


def _load(paths, chunk, hop):
    """Read, check, normalise and chunk each recording; skip (and count) what cannot be used."""
    chunks, lengths, names, skipped, repairs = [], [], [], [], Counter()
    for path in paths:
        try:
            wave, fixes = audio.read_audio(path)
            audio.check_recording(wave, path, chunk)
        except audio.AudioFormatError as err:
            log.warning("skipping %s", err)
            skipped.append(str(err))
            continue
        repairs.update(fixes)
        frames = audio.chunk_waveform(audio.normalise_peak(wave), chunk, hop)
        chunks.append(frames)
        lengths.append(len(frames))
        names.append(Path(path).name)
    if not chunks:
        raise ValueError(f"no usable recordings among {len(paths)} files")
    return np.concatenate(chunks), np.array(lengths), np.array(names), skipped, dict(repairs)


def make_splits(recordings, digits, n_utterances, held_out_speakers, seed, chunk=800, hop=400):
    """Train on the selected utterances of every speaker but the held-out ones; test on the
    held-out speakers' utterances of the same digits (a speaker-disjoint split)."""
    files = sorted(Path(recordings).glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"{recordings}: no .wav recordings")
    meta = [(f, *parse_name(f.name)) for f in files]
    chosen = [m for m in meta if digits is None or m[1] in digits]
    train = [m[0] for m in chosen if m[2] not in held_out_speakers]
    test = [m[0] for m in chosen if m[2] in held_out_speakers]
    if n_utterances is not None:
        if n_utterances > len(train):
            raise ValueError(f"asked for {n_utterances} training utterances, only {len(train)} match")
        rng = np.random.default_rng(seed)
        train = [train[i] for i in np.sort(rng.choice(len(train), n_utterances, replace=False))]
    arrays, info = {}, {"digits": digits, "held_out_speakers": held_out_speakers, "seed": seed,
                        "normalisation": "each recording scaled to peak amplitude 1"}
    for split, paths in (("train", train), ("test", test)):
        x, lengths, names, skipped, repairs = _load(paths, chunk, hop)
        arrays.update({f"x_{split}": x, f"lengths_{split}": lengths, f"names_{split}": names})
        info[split] = {"recordings": len(names), "chunks": int(len(x)), "skipped": skipped, "repairs": repairs}
    info["description"] = (f"FSDD digits {digits or 'all'}: {info['train']['recordings']} training "
                           f"recordings; test = speakers {held_out_speakers}")
    return arrays, info


def make_violin_splits(path, test_fraction, chunk=800, hop=400):
    """One recording: the first part for training, the last `test_fraction` held out."""
    wave, repairs = audio.read_audio(path)
    audio.check_recording(wave, path, chunk)
    frames = audio.chunk_waveform(audio.normalise_peak(wave), chunk, hop)
    n_test = max(1, int(round(len(frames) * test_fraction)))
    x_train, x_test = frames[:-n_test], frames[-n_test:]
    arrays = {"x_train": x_train, "lengths_train": np.array([len(x_train)]),
              "x_test": x_test, "lengths_test": np.array([len(x_test)]),
              "names_train": np.array([Path(path).name]), "names_test": np.array([Path(path).name])}
    info = {"description": f"violin {Path(path).name}: last {test_fraction:.0%} held out",
            "normalisation": "scaled to peak amplitude 1", "repairs": repairs,
            "seconds": len(wave) / audio.SAMPLE_RATE, "train": {"chunks": len(x_train)},
            "test": {"chunks": len(x_test)}}
    return arrays, info
