"""The Free Spoken Digit Dataset (per-recording checksums, fetching: the workflow step `download`)
and the user's own recordings: selection and speaker-disjoint splits. Two audio source kinds
(iml.data.AUDIO_SOURCES): `fsdd_splits` (source: fsdd) and `recordings_splits` (source: recordings)."""

import csv
import hashlib
import logging
import re
import stat
import tarfile
import tempfile
import zipfile
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np

from iml.data import audio
from iml.data.download import DownloadError, fetch, fetch_many, md5sum
from iml.io import atomic_path, save_text

log = logging.getLogger(__name__)

COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
RAW_URL = f"https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/{COMMIT}"
ARCHIVE_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{COMMIT}.zip"
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
RECORDING_NAME = re.compile(r"^([^_]+)_([^_]+)_(\d+)\.(?i:wav)$")  # the user's {label}_{speaker}_{index}.wav
WORKERS = 8  # concurrent file-by-file fetches: enough to hide latency, gentle on the servers


def read_listing(text):
    """{file name: md5} from `md5  name` lines (md5sum's format)."""
    return {name: md5 for md5, name in (line.split() for line in text.splitlines() if line.strip())}


def manifest():
    """{file name: md5} of the 3000 recordings at the pinned commit."""
    return read_listing(resources.files("iml.data").joinpath("fsdd_md5.txt").read_text())


def _verified(path, md5):
    return path.exists() and md5sum(path) == md5


def _members(archive):
    """(member path, is a regular file, read()) for each member of a zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                regular = not info.is_dir() and not stat.S_ISLNK(info.external_attr >> 16)
                yield info.filename, regular, lambda info=info: bundle.read(info)
        return
    try:
        bundle = tarfile.open(archive)
    except tarfile.TarError as err:
        raise DownloadError(f"{archive}: not a zip or tar archive ({err})") from err
    with bundle:
        for member in bundle:
            yield member.name, member.isfile(), lambda member=member: bundle.extractfile(member).read()


def extract_recordings(archive, dest, expected):
    """Copy out the archive's `recordings/` files that are named in `expected` and match their md5.

    Nothing else is written: extra names, links and damaged files are skipped, counted and named
    (a damaged one is then fetched file by file). Returns {reason: [member paths]}.
    """
    skipped, known = defaultdict(list), manifest()
    for member, regular, read in _members(archive):
        path = PurePosixPath(member)
        if path.parent.name != "recordings":
            continue  # the repository's other files
        if not regular:
            skipped["not a regular file"].append(member)
        elif path.name not in known:
            skipped["not in the manifest"].append(member)
        elif path.name not in expected:
            continue  # a recording not asked for
        elif not _verified(dest / path.name, expected[path.name]):
            data = read()
            if hashlib.md5(data).hexdigest() != expected[path.name]:
                skipped["checksum mismatch"].append(member)
                continue
            with atomic_path(dest / path.name) as tmp:
                tmp.write_bytes(data)
    for reason, members in skipped.items():
        log.warning("%s: skipped %d member(s), %s: %s%s", archive, len(members), reason,
                    ", ".join(members[:5]), " ..." if len(members) > 5 else "")
    return dict(skipped)


def _fetch_archive(archive, dest, expected, retries, timeout):
    """The archive (a path, or a URL fetched with retries and a timeout) unpacked into `dest`."""
    if "://" not in str(archive):
        return extract_recordings(Path(archive), dest, expected)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fsdd-archive.") as tmp:
        base, name = str(archive).rsplit("/", 1)
        # GitHub's archives are not byte-stable: the recordings inside are checked, not the archive
        local = fetch(name, Path(tmp) / name, None, "fsdd", [base], retries=retries, timeout=timeout)
        return extract_recordings(local, dest, expected)


def fetch_fsdd(dest, mirror=None, archive="pinned", names=None, retries=3, timeout=60, raw_url=None):
    """The manifest's recordings (or `names` among them) into `dest`, each checked against its md5.

    Each step fetches only what is still missing: the mirror file by file
    (`<mirror>/fsdd/recordings/<name>`); then the archive (a path or URL; "pinned": GitHub's at the
    pinned commit; None: none); then GitHub file by file at the pinned commit. File-by-file
    fetches run concurrently with retries. What was verified stays when something fails.
    Returns {name: md5} of the recordings, all verified.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    expected = manifest()
    if names is not None:
        unknown = sorted(set(names) - set(expected))
        if unknown:
            raise ValueError(f"not FSDD recordings at commit {COMMIT}: {unknown[:5]}")
        expected = {name: expected[name] for name in names}
    missing = [name for name, md5 in expected.items() if not _verified(dest / name, md5)]
    log.info("FSDD: %d of %d recordings to fetch into %s", len(missing), len(expected), dest)
    errors = defaultdict(list)
    if missing and mirror:
        missing = _fetch_files(dest, missing, expected, errors, "FSDD from the mirror", mirror, [],
                               retries, timeout)
    if missing and archive:
        try:
            _fetch_archive(ARCHIVE_URL if archive == "pinned" else archive, dest, expected, retries, timeout)
        except (DownloadError, OSError, zipfile.BadZipFile) as err:
            log.warning("FSDD archive %s not used: %s", archive, err)
            errors["the archive"].append(err if isinstance(err, DownloadError) else DownloadError(str(err)))
        missing = [name for name in missing if not _verified(dest / name, expected[name])]
    if missing:
        missing = _fetch_files(dest, missing, expected, errors, "FSDD from GitHub", None, [raw_url or RAW_URL],
                               retries, timeout)
    if missing:
        examples = "\n".join(f"  {name}: " + "; ".join(map(str, errors[name])) for name in missing[:3])
        raise DownloadError(
            f"{dest}: {len(missing)} of {len(expected)} FSDD recordings could not be fetched and "
            f"verified (the {len(expected) - len(missing)} verified ones are kept), e.g.\n{examples}",
            unreachable=all(err.unreachable for errs in errors.values() for err in errs))
    return expected


def _fetch_files(dest, names, expected, errors, label, mirror, urls, retries, timeout):
    """Fetch `names` one file each, concurrently; record failures in `errors`; return those still missing."""
    jobs = [dict(filename=f"recordings/{name}", dest=dest / name, md5=expected[name], dataset="fsdd",
                 urls=urls, mirror=mirror, retries=retries, timeout=timeout) for name in names]
    failed = fetch_many(jobs, label, workers=WORKERS)
    for name in names:
        if str(dest / name) in failed:
            errors[name].append(failed[str(dest / name)])
    return [name for name in names if str(dest / name) in failed]


def parse_name(name, pattern=NAME):
    match = pattern.match(name)
    if not match:
        raise ValueError(f"{name}: not named {{label}}_{{speaker}}_{{index}}.wav")
    return match.group(1), match.group(2)


def recordings(folder, names):
    """(path, digit, speaker) of each named FSDD recording in `folder`; one missing is an error."""
    entries = []
    for name in sorted(names):
        path = Path(folder) / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed FSDD recording is missing (rerun the download)")
        digit, speaker = parse_name(name)
        entries.append((path, int(digit), speaker))
    return entries


def user_recordings(source):
    """(path, label, speaker) of the user's recordings: a folder of `{label}_{speaker}_{index}.wav`
    files, or a CSV file with columns file, speaker, label (files relative to the CSV's folder)."""
    source = Path(source)
    if source.is_dir():
        wavs = sorted(p for p in source.iterdir() if p.suffix.lower() == ".wav")  # .WAV too
        entries = [(path, *parse_name(path.name, RECORDING_NAME)) for path in wavs]
        if not entries:
            raise FileNotFoundError(f"{source}: no .wav recordings")
        return entries
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = {"file", "speaker", "label"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{source}: needs the columns file, speaker, label (missing: {sorted(missing)})")
    entries = []
    for line, row in enumerate(rows, start=2):
        path = source.parent / row["file"]
        if not path.is_file():
            raise FileNotFoundError(f"{source}, line {line}: {path} not found")
        entries.append((path, row["label"], row["speaker"]))
    return entries


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


def make_splits(entries, labels, n_utterances, held_out_speakers, seed, chunk=800, hop=400):
    """Train on the selected utterances of every speaker but the held-out ones; test on the
    held-out speakers' utterances of the same labels (a speaker-disjoint split).

    `entries`: (path, label, speaker) in a fixed order; `labels`: those to keep (None: all).
    """
    keep = None if labels is None else {str(label) for label in labels}
    chosen = [e for e in entries if keep is None or str(e[1]) in keep]
    train = [e[0] for e in chosen if e[2] not in held_out_speakers]
    test = [e[0] for e in chosen if e[2] in held_out_speakers]
    if n_utterances is not None:
        if n_utterances > len(train):
            raise ValueError(f"asked for {n_utterances} training utterances, only {len(train)} match")
        rng = np.random.default_rng(seed)
        train = [train[i] for i in np.sort(rng.choice(len(train), n_utterances, replace=False))]
    arrays, info = {}, {"labels": labels, "held_out_speakers": held_out_speakers, "seed": seed,
                        "normalisation": "each recording scaled to peak amplitude 1"}
    for split, paths in (("train", train), ("test", test)):
        x, lengths, names, skipped, repairs = _load(paths, chunk, hop)
        arrays.update({f"x_{split}": x, f"lengths_{split}": lengths, f"names_{split}": names})
        info[split] = {"recordings": len(names), "chunks": int(len(x)), "skipped": skipped, "repairs": repairs}
    info["description"] = (f"labels {labels or 'all'}: {info['train']['recordings']} training "
                           f"recordings; test = speakers {held_out_speakers}")
    return arrays, info


def download(listing, mirror, archive, retries, timeout):
    """The verified recordings into `recordings/` beside `listing`, then `listing` itself (their
    `md5  name` lines): the rule's only output, so a failed fetch keeps what was verified."""
    listing = Path(listing)
    verified = fetch_fsdd(listing.parent / "recordings", mirror=mirror, archive=archive, retries=retries,
                          timeout=timeout)
    save_text(listing, "".join(f"{md5}  {name}\n" for name, md5 in sorted(verified.items())))


def fsdd_splits(inputs, settings, chunk):
    """The audio source kind fsdd: the download's listing (`inputs`) names the recordings, nothing else."""
    entries = recordings(Path(inputs).parent / "recordings", read_listing(Path(inputs).read_text()))
    arrays, info = make_splits(entries, settings["digits"], settings["n_utterances"], settings["held_out_speakers"],
                               settings["seed"], chunk["size"], chunk["hop"])
    info["description"] = f"FSDD {info['description']}"
    return arrays, info


def recordings_splits(inputs, settings, chunk):
    """The audio source kind recordings: the user's recordings (`inputs`: their folder or CSV)."""
    arrays, info = make_splits(user_recordings(inputs), settings["labels"], settings["n_utterances"],
                               settings["held_out_speakers"], settings["seed"], chunk["size"], chunk["hop"])
    info["description"] = f"recordings {inputs} {info['description']}"
    return arrays, info
