"""Checksummed downloads with a mirror tried first, retries, progress and atomic writes."""

import hashlib
import logging
import shutil
import time
import urllib.request
from pathlib import Path

from iml.io import atomic_path

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    pass


def md5sum(path, chunk=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def candidate_sources(filename, dataset, urls, mirror=None):
    """The mirror (`<mirror>/<dataset>/<filename>`, folder or base URL) first, then the canonical URLs."""
    sources = []
    if mirror:
        mirror = str(mirror).rstrip("/")
        sources.append(f"{mirror}/{dataset}/{filename}")
    sources += [f"{url.rstrip('/')}/{filename}" for url in urls]
    return sources


def _copy_source(source, dest, timeout):
    """Copy a local path or URL into `dest`, printing progress every 10%."""
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
                log.info("  %s: %3.0f%% of %.1f MB", source, 100 * done / total, total / 1e6)
                next_report += 0.1


def fetch(filename, dest, md5, dataset, urls, mirror=None, retries=3, timeout=60, backoff=1.0):
    """Download `filename` to `dest`, verified against `md5` (None: not verified, the md5 logged).

    Each source is tried `retries` times; a checksum mismatch moves on to the next source.
    Nothing appears under `dest` unless its checksum is right.
    """
    dest = Path(dest)
    failures = []
    for source in candidate_sources(filename, dataset, urls, mirror):
        for attempt in range(1, retries + 1):
            log.info("fetching %s from %s (attempt %d/%d)", filename, source, attempt, retries)
            try:
                with atomic_path(dest) as tmp:
                    _copy_source(source, tmp, timeout)
                    actual = md5sum(tmp)
                    if md5 is None:
                        log.warning("%s has no known checksum; its md5 is %s", filename, actual)
                    elif actual != md5:
                        raise DownloadError(
                            f"checksum mismatch for {filename} from {source}: "
                            f"expected md5 {md5}, got {actual}"
                        )
                log.info("fetched %s (md5 %s)", dest, actual)
                return dest
            except DownloadError as err:  # a damaged copy: retrying the same source won't help
                log.warning("%s", err)
                failures.append(str(err))
                break
            except (OSError, ValueError) as err:
                log.warning("failed to fetch %s from %s: %s", filename, source, err)
                failures.append(f"{source}: {err}")
                if isinstance(err, FileNotFoundError) or getattr(err, "code", None) == 404:
                    break  # absent from this source: retrying won't help
                if attempt < retries:
                    time.sleep(backoff * attempt)
    raise DownloadError(
        f"could not fetch {filename} into {dest}; tried:\n  " + "\n  ".join(failures)
    )
