"""The violin piece (Sec. 4.2, Fig. 7): the user's recording fetched (the workflow step
`download`) and cut into training chunks and a held-out end."""

from pathlib import Path

import numpy as np

from iml.data import audio
from iml.data.download import fetch


def download(source, md5, dest, mirror, retries, timeout):
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


def make_splits(path, test_fraction, chunk=800, hop=400):
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
