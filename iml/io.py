"""Atomic file writing: a result appears under its final name only when complete."""

import contextlib
import fcntl
import json
import logging
import os
import secrets
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def remove_stale_parts(path):
    """Delete what an earlier, killed write of `path` left beside it (`.<name>.*.part*`). A live
    write holds a lock on its part (see _create_part), so the part of another process writing the
    same path (two runs sharing a download folder) is left alone."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.part*"):
        try:
            fd = os.open(stale, os.O_RDONLY)
        except OSError:  # its writer finished meanwhile, or it is not ours to read: left alone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer holds it
        else:
            log.info("removing %s, left by an interrupted write of %s", stale, path)
            stale.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _create_part(path):
    """A new, empty `.<name>.<random>.part` beside `path` and an open descriptor holding an exclusive
    lock on it until the write ends (the lock goes with the process, so a killed writer's part is
    stale). Created with mode 0666 less the umask like any other file (mkstemp's 0600 would hide
    results from colleagues)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # between creating and locking, another process may have taken it for stale
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    tmp, lock = _create_part(path)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        try:
            if os.path.exists(tmp):
                os.unlink(tmp)
        finally:
            os.close(lock)


def save_npz(path, **arrays):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_npz(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def save_json(path, obj):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def load_json(path):
    return json.loads(Path(path).read_text())


def save_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_figure(fig, path):
    """Save a matplotlib figure atomically; the format follows the suffix."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), bbox_inches="tight", dpi=150)
