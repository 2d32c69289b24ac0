"""Downloads: FSDD from a folder mirror or one archive (verified against the manifest, nothing
else taken), failed fetches that keep what was verified, sources that key the cache, the user's
own recordings, and the test data on a fresh machine."""

import io
import logging
import os
import socket
import tarfile

import numpy as np
import pytest
import yaml

from iml.data import audio, download, fsdd, violin
from tests.helpers import (
    VIOLIN_PIECE,
    copy_workflow,
    fetch_test_data,
    github_archive,
    local_or_fetched_data,
    serve,
    snakemake,
)

N_SLOW = 40  # recordings in the delayed-server test (its speed: benchmarks/fsdd_download_benchmark.py)


def _mkdir(path):
    path.mkdir()
    return path


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: a connection is refused, as with no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_archive_and_folder_give_identical_recordings_through_a_slow_server(shared_data, tmp_path,
                                                                          closed_port_url):
    recordings = shared_data / "fsdd" / "recordings"
    names = sorted(fsdd.manifest())[:: 3000 // N_SLOW][:N_SLOW]
    github_archive(recordings, names, tmp_path / f"{fsdd.COMMIT}.zip")
    folder_url, folder_server = serve(shared_data, delay=0.1)
    archive_url, archive_server = serve(tmp_path, delay=0.1)
    try:
        fsdd.fetch_fsdd(tmp_path / "by_file", mirror=folder_url, archive=None, names=names)
        fsdd.fetch_fsdd(tmp_path / "by_archive", archive=f"{archive_url}/{fsdd.COMMIT}.zip", names=names,
                        raw_url=closed_port_url)  # nothing may come file by file
    finally:
        folder_server.shutdown()
        archive_server.shutdown()
    for name in names:
        original = (recordings / name).read_bytes()
        assert (tmp_path / "by_file" / name).read_bytes() == original
        assert (tmp_path / "by_archive" / name).read_bytes() == original
    assert sorted(p.name for p in (tmp_path / "by_archive").iterdir()) == names


def _tar_member(tar, name, data=None, link=None):
    info = tarfile.TarInfo(f"free-spoken-digit-dataset-x/recordings/{name}")
    if link:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_archive_gives_only_verified_manifest_recordings(shared_data, tmp_path, caplog):
    """Extras, odd names, links and a damaged recording are skipped by name and counted; the
    damaged and the linked recording then come file by file, and nothing else."""
    recordings = shared_data / "fsdd" / "recordings"
    names = sorted(fsdd.manifest())[:6]
    archive = tmp_path / "fsdd.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in names[:4]:
            _tar_member(tar, name, (recordings / name).read_bytes())
        _tar_member(tar, names[4], b"RIFF" + bytes(100))  # damaged
        _tar_member(tar, names[5], link="../../../etc/passwd")
        _tar_member(tar, "0_mallory_0.wav", (recordings / names[0]).read_bytes())  # not in the manifest
        _tar_member(tar, "notes.wav", b"not a recording")
    url, server = serve(shared_data)
    try:
        with caplog.at_level(logging.INFO):
            fsdd.fetch_fsdd(tmp_path / "rec", archive=archive, names=names, raw_url=f"{url}/fsdd")
    finally:
        server.shutdown()
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == names
    for name in names:
        assert (tmp_path / "rec" / name).read_bytes() == (recordings / name).read_bytes()
    log = caplog.text
    assert "skipped 2 member(s), not in the manifest" in log and "0_mallory_0.wav" in log and "notes.wav" in log
    assert f"skipped 1 member(s), not a regular file: free-spoken-digit-dataset-x/recordings/{names[5]}" in log
    assert f"skipped 1 member(s), checksum mismatch: free-spoken-digit-dataset-x/recordings/{names[4]}" in log
    assert "FSDD from GitHub [####################] 2/2 (0 failed)" in log  # only those two, file by file


def test_slow_archive_times_out_and_the_files_come_one_by_one(shared_data, tmp_path, caplog):
    names = sorted(fsdd.manifest())[:4]
    github_archive(shared_data / "fsdd" / "recordings", names, tmp_path / "fsdd.zip")
    slow_url, slow = serve(tmp_path, delay=2.0)
    url, server = serve(shared_data)
    try:
        with caplog.at_level(logging.INFO):
            fsdd.fetch_fsdd(tmp_path / "rec", archive=f"{slow_url}/fsdd.zip", names=names, retries=2,
                            timeout=0.3, raw_url=f"{url}/fsdd")
    finally:
        slow.shutdown()
        server.shutdown()
    tries = [line for line in caplog.text.splitlines() if "failed to fetch fsdd.zip" in line]
    assert len(tries) == 2 and all(line.endswith("timed out after 0.3 s") for line in tries)  # each attempt, then given up
    assert f"FSDD archive {slow_url}/fsdd.zip not used" in caplog.text
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == names


def test_splits_take_only_the_listed_recordings(shared_data, tmp_path):
    """Extra WAVs beside the download (an intruder, an odd name) are not read."""
    recordings = shared_data / "fsdd" / "recordings"
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    names = ["0_george_0.wav", "0_george_1.wav", "0_theo_0.wav"]
    for name in names + ["0_mallory_0.wav", "odd name.wav"]:
        (folder / name).write_bytes((recordings / names[0]).read_bytes())
    listing = tmp_path / "fsdd" / "recordings.md5"
    listing.write_text("".join(f"{fsdd.manifest()[n]}  {n}\n" for n in names))
    settings = {"source": "fsdd", "digits": [0], "n_utterances": None, "held_out_speakers": ["theo"], "seed": 0}
    audio.preprocess("fsdd_all", listing, settings, {"size": 800, "hop": 400},
                     tmp_path / "splits.npz", tmp_path / "splits.json")
    arrays = np.load(tmp_path / "splits.npz")
    assert list(arrays["names_train"]) == names[:2] and list(arrays["names_test"]) == names[2:]


@pytest.mark.workflow
def test_failed_fetch_keeps_the_verified_recordings(shared_data, tmp_path, monkeypatch, closed_port_url):
    """A mirror lacking one recording and no internet: the job fails, the 2999 stay; the rerun
    fetches only the one."""
    mirror = tmp_path / "mirror"
    (mirror / "fsdd" / "recordings").mkdir(parents=True)
    for path in (shared_data / "fsdd" / "recordings").glob("*.wav"):
        if path.name != "0_george_0.wav":
            (mirror / "fsdd" / "recordings" / path.name).symlink_to(path)
    workdir = copy_workflow(_mkdir(tmp_path / "wf"))
    (workdir / "mirror.yaml").write_text(yaml.safe_dump({"data": {"mirror": str(mirror), "retries": 1}}))
    monkeypatch.setenv("https_proxy", closed_port_url)  # GitHub unreachable, as offline
    target = ["resources/downloads/fsdd/recordings.md5", "--cores", "1", "--configfile", "mirror.yaml"]
    proc = snakemake(workdir, *target, check=False)
    assert proc.returncode != 0
    cache = workdir / "resources" / "downloads" / "fsdd"
    assert len(list((cache / "recordings").glob("*.wav"))) == 2999 and not (cache / "recordings.md5").exists()
    log = (workdir / "results" / "logs" / "download_fsdd" / "fsdd.log").read_text()
    assert "1 of 3000 FSDD recordings could not be fetched" in log and "0_george_0.wav" in log
    (mirror / "fsdd" / "recordings" / "0_george_0.wav").symlink_to(shared_data / "fsdd/recordings/0_george_0.wav")
    snakemake(workdir, *target)
    log = (workdir / "results" / "logs" / "download_fsdd" / "fsdd.log").read_text()
    assert "FSDD: 1 of 3000 recordings to fetch" in log
    assert fsdd.read_listing((cache / "recordings.md5").read_text()) == fsdd.manifest()


def test_an_explicit_local_violin_file_beats_the_mirror(shared_data, tmp_path):
    mine = tmp_path / "mine" / "piece.mp3"
    mine.parent.mkdir()
    mine.write_bytes((shared_data / "violin" / "john-garner_bwv1002_mov6.mp3").read_bytes())
    mirror = tmp_path / "mirror"
    (mirror / "violin").mkdir(parents=True)
    (mirror / "violin" / "piece.mp3").write_bytes((shared_data / "violin" / "john-garner_bwv1002_mov7.mp3").read_bytes())
    violin.download(str(mine), None, tmp_path / "got.mp3", str(mirror), retries=1, timeout=5)
    assert (tmp_path / "got.mp3").read_bytes() == mine.read_bytes()
    with pytest.raises(FileNotFoundError, match="data.violin.source: /nowhere/piece.mp3 not found"):
        violin.download("/nowhere/piece.mp3", None, tmp_path / "x.mp3", str(mirror), 1, 5)
    assert download.source_key(str(mine)) != download.source_key(str(mirror / "violin" / "piece.mp3"))


@pytest.mark.workflow
def test_changing_the_violin_source_reruns_its_chain(shared_data, tmp_path):
    workdir = copy_workflow(_mkdir(tmp_path / "wf"))
    for folder, movement in (("a", 6), ("b", 7)):
        (workdir / folder).mkdir()
        (workdir / folder / "piece.mp3").symlink_to(shared_data / "violin" / f"john-garner_bwv1002_mov{movement}.mp3")
    for folder in ("a", "b"):
        (workdir / f"{folder}.yaml").write_text(yaml.safe_dump({"data": {"violin": {"source": f"{folder}/piece.mp3"}}}))
    target = ["results/data/violin/splits.json", "--cores", "1", "--configfile"]
    snakemake(workdir, *target, "a.yaml")
    assert "Nothing to be done" in snakemake(workdir, *target, "a.yaml", "-n").stdout
    proc = snakemake(workdir, *target, "b.yaml", "-n")
    assert "download_violin" in proc.stdout and "preprocess_audio" in proc.stdout


def _user_folder(recordings, dest):
    """FSDD digits 0 and 1 of two speakers, renamed as a user's own labels and speakers."""
    dest.mkdir()
    rows = []
    for digit, label in ((0, "zero"), (1, "one")):
        for speaker, person in (("george", "ann"), ("theo", "bob")):
            for index in range(3):
                name = f"{label}_{person}_{index}.wav"
                (dest / name).write_bytes((recordings / f"{digit}_{speaker}_{index}.wav").read_bytes())
                rows.append((name, person, label))
    return rows


def test_user_recordings_from_a_folder_or_a_csv(shared_data, tmp_path):
    rows = _user_folder(shared_data / "fsdd" / "recordings", tmp_path / "audio")
    listing = tmp_path / "audio.csv"
    listing.write_text("file,speaker,label\n" + "".join(f"audio/{n},{s},{lab}\n" for n, s, lab in rows))
    split = {"n_utterances": None, "held_out_speakers": ["bob"], "seed": 0}
    chunk = {"size": 800, "hop": 400}
    results = []
    for source in (tmp_path / "audio", listing):
        settings = {"source": "recordings", "path": str(source), "labels": ["zero"], **split}
        audio.preprocess("mine", source, settings, chunk, tmp_path / "s.npz", tmp_path / "s.json")
        results.append(dict(np.load(tmp_path / "s.npz")))
    for key in ("x_train", "x_test", "names_train", "names_test"):
        np.testing.assert_array_equal(results[0][key], results[1][key])
    assert list(results[0]["names_train"]) == ["zero_ann_0.wav", "zero_ann_1.wav", "zero_ann_2.wav"]
    assert list(results[0]["names_test"]) == ["zero_bob_0.wav", "zero_bob_1.wav", "zero_bob_2.wav"]
    (tmp_path / "audio" / "zero-ann-9.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"zero-ann-9.wav: not named \{label\}_\{speaker\}_\{index\}.wav"):
        fsdd.user_recordings(tmp_path / "audio")
    listing.write_text("file,label\naudio/zero_ann_0.wav,zero\n")
    with pytest.raises(ValueError, match=r"audio.csv: needs the columns file, speaker, label \(missing: \['speaker'\]\)"):
        fsdd.user_recordings(listing)


def test_user_recordings_dataset_in_the_workflow(shared_data, tmp_path):
    workdir = copy_workflow(_mkdir(tmp_path / "wf"))
    _user_folder(shared_data / "fsdd" / "recordings", workdir / "audio")
    mine = {"source": "recordings", "path": "audio", "labels": None, "n_utterances": None,
            "held_out_speakers": ["bob"], "seed": 0}
    (workdir / "mine.yaml").write_text(yaml.safe_dump({"audio": {"run": ["mine"], "datasets": {"mine": mine}}}))
    proc = snakemake(workdir, "-n", "results/data/mine/splits.json", "--configfile", "mine.yaml")
    assert "preprocess_audio" in proc.stdout and "download_fsdd" not in proc.stdout
    (workdir / "gone.yaml").write_text(yaml.safe_dump({"audio": {"datasets": {"mine": {"path": "gone"}}}}))
    proc = snakemake(workdir, "-n", "results/data/mine/splits.json", "--configfile", "mine.yaml", "gone.yaml",
                     check=False)
    assert proc.returncode != 0 and "config: audio.datasets.mine.path: gone not found" in proc.stdout


def _canonical_stand_in(shared_data, root):
    """The canonical sources' layout on 127.0.0.1: MNIST files, GitHub's FSDD archive, the violin."""
    root.mkdir()
    (root / "mnist").symlink_to(shared_data / "mnist")
    (root / "violin").symlink_to(shared_data / "violin")
    names = sorted(fsdd.manifest())
    github_archive(shared_data / "fsdd" / "recordings", names, root / f"{fsdd.COMMIT}.zip")


def test_fresh_machine_fetches_the_test_data(shared_data, tmp_path, monkeypatch):
    """No local copy: the data the tests use comes md5-checked from the canonical sources (here a
    stand-in on 127.0.0.1) into the cache, and a second run fetches nothing."""
    monkeypatch.delenv("CI", raising=False)  # CI itself must have the local copy
    _canonical_stand_in(shared_data, tmp_path / "web")
    url, server = serve(tmp_path / "web")
    sources = {"mnist": [f"{url}/mnist"], "fsdd_archive": f"{url}/{fsdd.COMMIT}.zip",
               "fsdd_files": f"{url}/nothing", "violin": [f"{url}/violin"]}
    try:
        got = local_or_fetched_data(local=tmp_path / "no-copy", cache=tmp_path / "cache", sources=sources)
        server.shutdown()  # all in the cache now: a second run needs no network
        assert local_or_fetched_data(local=tmp_path / "no-copy", cache=got, sources=sources) == got
    finally:
        server.shutdown()
    for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "fsdd/recordings/7_jackson_32.wav"]:
        path = name if "/" in name else f"mnist/{name}"
        assert (got / path).read_bytes() == (shared_data / path).read_bytes()
    assert len(list((got / "fsdd" / "recordings").iterdir())) == 3000
    assert download.md5sum(got / "violin" / VIOLIN_PIECE[0]) == VIOLIN_PIECE[1]


def test_unreachable_sources_skip_with_the_reason_and_missing_files_fail(tmp_path, closed_port_url, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    sources = {"mnist": [f"{closed_port_url}/mnist"], "fsdd_archive": f"{closed_port_url}/a.zip",
               "fsdd_files": closed_port_url, "violin": [closed_port_url]}
    with pytest.raises(pytest.skip.Exception, match="canonical sources are unreachable"):
        local_or_fetched_data(local=tmp_path / "no-copy", cache=tmp_path / "cache", sources=sources)
    url, server = serve(tmp_path)  # reachable, but without the files: a failure, not a skip
    try:
        with pytest.raises(download.DownloadError, match="t10k-images"):
            fetch_test_data(tmp_path / "cache", {**sources, "mnist": [f"{url}/mnist"]}, retries=1)
    finally:
        server.shutdown()


def _fetch_repeatedly(dest, mirror, times):
    """A process fetching one MNIST file `times` times into a shared folder; returns its failures."""
    from iml.data import mnist

    failures = 0
    for _ in range(times):
        try:
            download.fetch("t10k-images-idx3-ubyte.gz", dest, mnist.FILES["t10k-images-idx3-ubyte.gz"], "mnist", [],
                           mirror=str(mirror), retries=1, level=logging.DEBUG)
        except download.DownloadError:
            failures += 1
    return failures


def test_two_processes_sharing_a_download_folder_both_succeed(shared_data, tmp_path):
    """Each process used to delete the other's live part, and the vanished part was reported as a
    file absent from the mirror (13 and 15 of 40 fetches failed)."""
    import multiprocessing

    dest = tmp_path / "downloads" / "mnist" / "t10k-images-idx3-ubyte.gz"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        failures = pool.starmap(_fetch_repeatedly, [(dest, shared_data, 15)] * 2)
    assert failures == [0, 0]
    assert download.md5sum(dest) == "9fb629c4189551a2d022fa330f9573f3"


def test_a_local_error_is_retried_and_not_blamed_on_the_source(shared_data, tmp_path, monkeypatch, caplog):
    """The part vanishing on our side (FileNotFoundError) is not 'absent from the mirror': retried,
    and named as local. A file the mirror lacks is still absent there, without retries."""
    real, calls = download.md5sum, []

    def lose_the_part_once(path):
        calls.append(path)
        if len(calls) == 1:
            os.unlink(path)
        return real(path)

    monkeypatch.setattr(download, "md5sum", lose_the_part_once)
    dest = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with caplog.at_level("WARNING", logger="iml.data.download"):
        download.fetch(dest.name, dest, "ec29112dd5afa0611ce80d1b7f02629c", "mnist", [], mirror=str(shared_data),
                       retries=2, backoff=0)
    assert dest.exists() and len(calls) == 2
    assert "local I/O error beside" in caplog.text and "not the source's fault" in caplog.text
    with pytest.raises(download.DownloadError, match=r"nothing.gz: not found at the source"):
        download.fetch("nothing.gz", tmp_path / "nothing.gz", None, "mnist", [], mirror=str(shared_data), retries=3,
                       backoff=0)
