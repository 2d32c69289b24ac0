"""The violin piece (Sec. 4.2, Fig. 7): the user's recording fetched (the workflow step
`download`) and cut into training chunks and a held-out end (the audio source kind violin,
`source_splits`)."""

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


# training chunks the violin needs: one to fit on and one held out for the frame bases' choices
MIN_TRAIN_CHUNKS = 2


def held_out_chunks(n_chunks, test_fraction):
    """The last chunks of the recording held out for testing: test_fraction of them, at least one."""
    return max(1, int(round(n_chunks * test_fraction)))


def make_splits(path, test_fraction, chunk=800, hop=400):
    """One recording: the first part for training, the last `test_fraction` held out."""
    wave, repairs = audio.read_audio(path)
    audio.check_recording(wave, path, chunk)
    frames = audio.chunk_waveform(audio.normalise_peak(wave), chunk, hop)
    n_test = held_out_chunks(len(frames), test_fraction)
    if len(frames) - n_test < MIN_TRAIN_CHUNKS:
        n_min = next(n for n in range(2, 10**6) if n - held_out_chunks(n, test_fraction) >= MIN_TRAIN_CHUNKS)
        shortest = chunk + (n_min - 2) * hop + 1  # the fewest samples that chunk_waveform cuts into n_min chunks
        raise audio.AudioFormatError(
            f"{path}: {len(wave)} samples ({len(wave) / audio.SAMPLE_RATE:.2f} s) make {len(frames)} chunk(s), "
            f"{n_test} of them held out for testing (test_fraction {test_fraction}), leaving fewer than "
            f"{MIN_TRAIN_CHUNKS} to train on; the violin source (data.violin.source) needs at least {shortest} samples "
            f"({shortest / audio.SAMPLE_RATE:.2f} s)")
    x_train, x_test = frames[:-n_test], frames[-n_test:]
    arrays = {"x_train": x_train, "lengths_train": np.array([len(x_train)]),
              "x_test": x_test, "lengths_test": np.array([len(x_test)]),
              "names_train": np.array([Path(path).name]), "names_test": np.array([Path(path).name])}
    info = {"description": f"violin {Path(path).name}: last {test_fraction:.0%} held out",
            "normalisation": "scaled to peak amplitude 1", "repairs": repairs,
            "seconds": len(wave) / audio.SAMPLE_RATE, "train": {"chunks": len(x_train)},
            "test": {"chunks": len(x_test)}}
    return arrays, info


def source_splits(inputs, settings, chunk):
    """The audio source kind violin: its one recording (`inputs`)."""
    return make_splits(inputs, settings["test_fraction"], chunk["size"], chunk["hop"])
