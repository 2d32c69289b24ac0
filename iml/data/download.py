"""Checksummed downloads with a mirror tried first, retries, progress and atomic writes."""

import hashlib
import logging
import shutil
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from iml.io import atomic_path

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """`unreachable`: every source failed to connect (no network), not a missing or bad file."""

    def __init__(self, message, unreachable=False):
        super().__init__(message)
        self.unreachable = unreachable


def md5sum(path, chunk=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def source_key(source):
    """A short digest of where a user-given file comes from (an existing path resolved first), so
    that switching sources switches cache entries."""
    path = Path(str(source))
    where = str(path.resolve()) if "://" not in str(source) and path.exists() else str(source)
    return hashlib.sha1(where.encode()).hexdigest()[:12]


def candidate_sources(filename, dataset, urls, mirror=None):
    """The mirror (`<mirror>/<dataset>/<filename>`, folder or base URL) first, then the canonical URLs."""
    sources = []
    if mirror:
        mirror = str(mirror).rstrip("/")
        sources.append(f"{mirror}/{dataset}/{filename}")
    sources += [f"{url.rstrip('/')}/{filename}" for url in urls]
    return sources


def _copy_source(source, dest, timeout, level):
    """Copy a local path or URL into `dest`, logging progress every 10%."""
    if "://" not in source:
        shutil.copyfile(source, dest)
        return
    with urllib.request.urlopen(source, timeout=timeout) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, next_report = 0, 0.1
        while block := response.read(1 << 16):
            out.write(block)
            done += len(block)
            if total and done / total >= next_report:
                log.log(level, "  %s: %3.0f%% of %.1f MB", source, 100 * done / total, total / 1e6)
                next_report += 0.1


def _unreachable(err):
    """A failure to connect at all (no route, DNS, refused, timeout), as opposed to an answer."""
    if isinstance(err, urllib.error.HTTPError):
        return False
    return isinstance(err, (urllib.error.URLError, ConnectionError, TimeoutError))


def fetch(filename, dest, md5, dataset, urls, mirror=None, retries=3, timeout=60, backoff=1.0,
          level=logging.INFO):
    """Download `filename` to `dest`, verified against `md5` (None: not verified, the md5 logged).

    Each source (the mirror's first) is tried `retries` times; a checksum mismatch or an absent file
    moves on to the next source. Nothing appears under `dest` unless its checksum is right.
    `level`: the log level of the per-attempt lines (DEBUG when many files share one progress line).
    """
    dest = Path(dest)
    warn = logging.WARNING if level >= logging.INFO else logging.DEBUG  # many files: the caller sums up
    failures, unreachable = [], []
    for source in candidate_sources(filename, dataset, urls, mirror):
        for attempt in range(1, retries + 1):
            log.log(level, "fetching %s from %s (attempt %d/%d)", filename, source, attempt, retries)
            try:
                with atomic_path(dest) as tmp:
                    _copy_source(source, tmp, timeout, level)
                    actual = md5sum(tmp)
                    if md5 is None:
                        log.info("%s: md5 %s (no checksum given to check it against)", filename, actual)
                    elif actual != md5:
                        raise DownloadError(
                            f"checksum mismatch for {filename} from {source}: "
                            f"expected md5 {md5}, got {actual}"
                        )
                log.log(level, "fetched %s (md5 %s)", dest, actual)
                return dest
            except DownloadError as err:  # a damaged copy: retrying the same source won't help
                log.log(warn, "%s", err)
                failures.append(str(err))
                unreachable.append(False)
                break
            except (OSError, ValueError) as err:
                log.log(warn, "failed to fetch %s from %s: %s", filename, source, err)
                failures.append(f"{source}: {err}")
                unreachable.append(_unreachable(err))
                if isinstance(err, FileNotFoundError) or getattr(err, "code", None) == 404:
                    break  # absent from this source: retrying won't help
                if attempt < retries:
                    time.sleep(backoff * attempt)
    raise DownloadError(
        f"could not fetch {filename} into {dest}; tried:\n  " + "\n  ".join(failures),
        unreachable=bool(unreachable) and all(unreachable),
    )


class Progress:
    """One progress line for a set of files, logged at every tenth of the way (thread-safe)."""

    def __init__(self, label, total, width=20):
        self.label, self.total, self.width = label, total, width
        self.done, self.failed, self._tenths = 0, 0, 0
        self._lock = threading.Lock()

    def update(self, ok):
        with self._lock:
            self.done += 1
            self.failed += not ok
            tenths = 10 * self.done // self.total
            if tenths > self._tenths:
                self._tenths = tenths
                filled = self.width * self.done // self.total
                log.info("%s [%s%s] %d/%d (%d failed)", self.label, "#" * filled,
                         "." * (self.width - filled), self.done, self.total, self.failed)


def fetch_many(jobs, label, workers=8):
    """Run `fetch(**job)` for each job concurrently (a bounded pool), with one progress line.

    Returns {dest: DownloadError} for the files that could not be had; the others are in place.
    """
    progress, failures = Progress(label, len(jobs)), {}

    def one(job):
        try:
            fetch(**job, level=logging.DEBUG)
            progress.update(True)
        except DownloadError as err:
            failures[str(job["dest"])] = err
            progress.update(False)

    if jobs:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, jobs))
    return failures
