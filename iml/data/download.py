"""Checksummed downloads with a mirror tried first, retries, progress and atomic writes.

pooch does the transfer (its HTTP downloader: timeouts, a tqdm progress bar) and the md5; the
order of sources, the retries and the atomic rename are ours: pooch's own retries would retry a
damaged or absent file and know one source per file, and its cache keeps a file it cannot verify."""

import hashlib
import logging
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pooch
import requests

from iml.io import atomic_path

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """`unreachable`: every source failed to connect (no network), not a missing or bad file."""

    def __init__(self, message, unreachable=False):
        super().__init__(message)
        self.unreachable = unreachable


def md5sum(path):
    return pooch.file_hash(str(path), alg="md5")


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


class SourceMissingError(FileNotFoundError):
    """The file is not at a local source (a folder mirror or the user's path); a missing file on
    our side of the copy (the destination's folder, its part) is a local error, not this."""


def _copy_source(source, dest, timeout, progressbar):
    """Copy a local path or URL into `dest` (an HTTP error raised, a progress bar if asked)."""
    if "://" in source:
        downloader = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, timeout=timeout)
        downloader(source, str(dest), None)
    elif not Path(source).is_file():  # a folder mirror or the user's own file
        raise SourceMissingError(f"not found at the source ({source})")
    else:
        shutil.copyfile(source, dest)


def _reason(err, timeout, dest):
    """What went wrong, in a few words (requests' messages nest the cause two levels deep)."""
    if _local(err, dest):
        return f"local I/O error beside {dest}, not the source's fault ({err})"
    if isinstance(err, requests.HTTPError):
        return f"HTTP {err.response.status_code} {err.response.reason}"
    if isinstance(err, requests.Timeout) and not isinstance(err, requests.ConnectionError):
        return f"timed out after {timeout} s"
    if isinstance(err, requests.ConnectionError):
        cause = re.search(r"\[Errno -?\d+\][^\"')]*", str(err))
        proxy = "to the proxy " if isinstance(err, requests.exceptions.ProxyError) else ""
        return f"could not connect {proxy}({cause.group(0) if cause else err})"
    return str(err)


def _unreachable(err):
    """A failure to connect at all (no route, DNS, refused, timeout), as opposed to an answer."""
    return isinstance(err, (requests.ConnectionError, requests.Timeout))


def _absent(err):
    """Absent from this source: retrying won't help."""
    return isinstance(err, SourceMissingError) or (
        isinstance(err, requests.HTTPError) and err.response.status_code == 404)


def _local(err, dest):
    """An error of our own file system beside `dest` (its part vanished, a full disk): retried, and
    never reported as the source's."""
    where = getattr(err, "filename", None)
    return (isinstance(err, OSError) and not isinstance(err, (requests.RequestException, SourceMissingError))
            and where is not None and Path(where).parent == Path(dest).parent)


def fetch(filename, dest, md5, dataset, urls, mirror=None, retries=3, timeout=60, backoff=1.0,
          level=logging.INFO):
    """Download `filename` to `dest`, verified against `md5` (None: not verified, the md5 logged).

    Each source (the mirror's first) is tried `retries` times; a checksum mismatch or an absent file
    moves on to the next source. Nothing appears under `dest` unless its checksum is right.
    `level`: the log level of the per-attempt lines (DEBUG, and no progress bar, when many files
    share one progress line).
    """
    dest = Path(dest)
    warn = logging.WARNING if level >= logging.INFO else logging.DEBUG  # many files: the caller sums up
    failures, unreachable = [], []
    for source in candidate_sources(filename, dataset, urls, mirror):
        for attempt in range(1, retries + 1):
            log.log(level, "fetching %s from %s (attempt %d/%d)", filename, source, attempt, retries)
            try:
                with atomic_path(dest) as tmp:
                    _copy_source(source, tmp, timeout, progressbar=level >= logging.INFO)
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
            except (OSError, ValueError) as err:  # requests' errors are OSErrors
                reason = _reason(err, timeout, dest)
                log.log(warn, "failed to fetch %s from %s: %s", filename, source, reason)
                failures.append(f"{source}: {reason}")
                unreachable.append(_unreachable(err))
                if _absent(err):
                    break
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
