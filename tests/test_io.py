"""Nothing half-written ever appears under a final name."""

import errno
import os

import numpy as np
import pytest

from iml import io


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out" / "arrays.npz"
    real_savez = np.savez

    def disk_full(f, **arrays):
        real_savez(f, **arrays)  # some bytes reach the disk first
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        io.save_npz(target, x=np.zeros(1000))
    assert list(target.parent.iterdir()) == []  # neither the final name nor a temporary file


def test_failed_write_keeps_the_previous_complete_file(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    io.save_json(target, {"good": 1})

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(io.json, "dumps", broken)
    with pytest.raises(OSError):
        io.save_json(target, {"good": 2})
    assert io.load_json(target) == {"good": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_unwritable_folder_is_an_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(PermissionError):
        io.save_text(folder / "x.txt", "data")
    folder.chmod(0o700)


def test_writing_into_a_path_that_is_a_file_fails_cleanly(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(OSError):
        io.save_text(tmp_path / "blocker" / "x.txt", "data")
    assert (tmp_path / "blocker").read_text() == "a file where a folder should be"


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_umask_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        io.save_json(tmp_path / "result.json", {"x": 1})
        io.save_npz(tmp_path / "arrays.npz", x=np.zeros(3))
    finally:
        os.umask(previous)
    for name in ("result.json", "arrays.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_killed_write_leaves_parts_that_the_next_write_removes(tmp_path):
    """SIGKILL inside a write of model.pt, then the same write again: no .part left over."""
    import signal
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "model.pt"
    script = textwrap.dedent(f"""
        import os, signal
        from iml import io
        with io.atomic_path({str(target)!r}) as tmp:
            tmp.write_bytes(b"x" * 1_000_000)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".model.pt.") and left[0].endswith(".part")
    (tmp_path / (left[0] + ".shrink")).write_bytes(b"y")  # a CELEB-A split's leftover beside its part
    (tmp_path / ".other.pt.1234.part").write_bytes(b"z")  # another file's write: not ours to remove
    io.save_text(target, "done")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.1234.part", "model.pt"]


def test_a_live_part_of_another_process_is_left_alone(tmp_path):
    """Another process writes the same path while this one is mid-write (two runs sharing a
    download folder): its clean-up of killed writes must not remove this live part."""
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "file.gz"
    with io.atomic_path(target) as tmp:
        tmp.write_bytes(b"mine")
        script = textwrap.dedent(f"""
            from iml import io
            io.save_text({str(target)!r}, "theirs")
        """)
        subprocess.run([sys.executable, "-c", script], check=True)
        assert tmp.exists(), "the other process removed a live part"
        tmp.write_bytes(b"mine, complete")
    assert target.read_bytes() == b"mine, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["file.gz"]
