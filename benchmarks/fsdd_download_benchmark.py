"""Benchmark of the two ways FSDD arrives (prints one line): file by file (a bounded pool of
concurrent requests) and one archive, both from a server on 127.0.0.1 that answers each request
`--delay` seconds late, standing in for a distant one.

Run:  PYTHONPATH=. python3 benchmarks/fsdd_download_benchmark.py [--delay 0.1] [--n 3000] [--serial]
Needs a local copy of the data, laid out as the mirror (set IML_SHARED_DATA). --serial also times one request
after another (the downloader before the pool), which at 100 ms takes n/10 seconds.
"""

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from iml.data import fsdd  # noqa: E402
from tests.helpers import SHARED_DATA, github_archive, serve  # noqa: E402


def timed(dest, **kwargs):
    t0 = time.perf_counter()
    fsdd.fetch_fsdd(dest, **kwargs)
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to every request")
    parser.add_argument("--n", type=int, default=3000, help="recordings to fetch (evenly spaced)")
    parser.add_argument("--serial", action="store_true", help="also time one request at a time")
    args = parser.parse_args()
    names = sorted(fsdd.manifest())[:: max(1, 3000 // args.n)][: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        github_archive(SHARED_DATA / "fsdd" / "recordings", names, tmp / "fsdd.zip")
        folder_url, folder_server = serve(SHARED_DATA, delay=args.delay)
        archive_url, archive_server = serve(tmp, delay=args.delay)
        times = {f"file by file ({fsdd.WORKERS} at a time)": timed(tmp / "a", mirror=folder_url, archive=None, names=names),
                 "one archive": timed(tmp / "b", archive=f"{archive_url}/fsdd.zip", names=names)}
        if args.serial:
            fsdd.WORKERS = 1
            times["one at a time"] = timed(tmp / "c", mirror=folder_url, archive=None, names=names)
        folder_server.shutdown()
        archive_server.shutdown()
    print(f"FSDD, {len(names)} recordings, {1000 * args.delay:.0f} ms per request: "
          + ", ".join(f"{how} {seconds:.1f} s" for how, seconds in times.items()))


if __name__ == "__main__":
    main()
