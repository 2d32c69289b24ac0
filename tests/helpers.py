"""Test helpers shared by several test modules."""

import functools
import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IML_SHARED_DATA", REPO.parent / "shared" / "data"))
# Without a local copy the tests fetch their data here (laid out like the copy: mnist/, fsdd/, violin/)
TEST_CACHE = Path(os.environ.get("IML_TEST_CACHE", Path.home() / ".cache" / "iml-test-data"))
VIOLIN_COMMIT = "36d687439af24112722e9f0832dfe2157280883c"  # salu133445/bach-violin-dataset
VIOLIN_PIECE = ("john-garner_bwv1002_mov6.mp3", "c65f020ff7cfca8e339b99078ccf9286")


def canonical_sources():
    """Where the test data comes from on a fresh machine (tests replace these with 127.0.0.1)."""
    from iml.data import fsdd, mnist

    return {"mnist": mnist.URLS, "fsdd_archive": fsdd.ARCHIVE_URL, "fsdd_files": fsdd.RAW_URL,
            "violin": [f"https://raw.githubusercontent.com/salu133445/bach-violin-dataset/{VIOLIN_COMMIT}"
                       "/bach-violin/audio/john-garner"]}


def fetch_test_data(cache, sources, retries=2, timeout=30):
    """The MNIST test files, FSDD (one archive download) and one violin piece into `cache`, each
    md5-checked by the project's downloader; what is already there and verified is kept."""
    from iml.data import download, fsdd, mnist

    wanted = [(name, mnist.FILES[name], "mnist", sources["mnist"]) for name in mnist.POOL_FILES["test_only"]]
    wanted.append((*VIOLIN_PIECE, "violin", sources["violin"]))
    for name, md5, dataset, urls in wanted:
        dest = cache / dataset / name
        if not (dest.exists() and download.md5sum(dest) == md5):
            download.fetch(name, dest, md5, dataset, urls, retries=retries, timeout=timeout)
    fsdd.fetch_fsdd(cache / "fsdd" / "recordings", archive=sources["fsdd_archive"], raw_url=sources["fsdd_files"],
                    retries=retries, timeout=timeout)
    return cache


# small settings of the bases fitted on codes: every fit takes a second or so
QUICK_BASES = {
    "standard_normal": {},
    "gaussian": {},
    "gmm": {"n_components": "auto", "n_components_grid": [1, 2, 4]},
    "dpgmm": {"max_components": 8},
    "kde": {},
    "flow": {"transforms": 2, "hidden_features": [32, 32], "epochs": 5},
}


def assert_kept_the_best_epoch(flow, validation):
    """A fitted flow base kept the epoch of highest validation log-likelihood (its history's
    arg-max), its restored weights give that score on the validation codes, and it stopped
    `patience` epochs after that epoch unless the epoch cap came first."""
    import numpy as np

    history = flow.history_[:, 1]
    assert flow.best_epoch_ == int(np.argmax(history)) + 1
    # the history is of standardised codes: code-space scores add the standardisation's Jacobian
    restored = flow.score(validation) + np.log(flow.code_std_).sum()
    assert abs(restored - history.max()) < 1e-4 * max(1.0, abs(history.max()))
    assert len(history) == min(flow.epochs, flow.best_epoch_ + flow.patience)


def skip_or_fail(reason):
    """Skip where a dependency or data copy may be missing, but fail under CI, which installs every
    dependency and holds every data copy: there a missing one is a broken setup, not a reason to pass."""
    import pytest

    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


def import_or_skip(module):
    """The module, or a skip naming it (a failure under CI)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        skip_or_fail(f"{module} cannot be imported: {err}")


def celeba_missing(shared_data):
    """Why the real CELEB-A sample faces cannot be used here (OpenCV or the sample absent: CelebA
    cannot be fetched, so only a data copy has it), or None when they can."""
    import importlib.util

    if importlib.util.find_spec("cv2") is None:
        return "OpenCV (cv2) is not installed"
    for sub in ("img_align_celeba", "test_256x256"):
        folder = shared_data / "celeba_sample" / sub
        if not (folder.is_dir() and any(folder.glob("*.jpg"))):
            return f"no CelebA sample faces at {folder} (CelebA cannot be fetched; set IML_SHARED_DATA)"
    return None


def celeba_sample_or_skip(shared_data):
    """The real CELEB-A sample folder, or a skip saying why not (a failure under CI)."""
    reason = celeba_missing(shared_data)
    if reason:
        skip_or_fail(reason)
    return shared_data / "celeba_sample"


def local_or_fetched_data(local=SHARED_DATA, cache=TEST_CACHE, sources=None):
    """The local data copy when there is one (CI must have it), else the fetched cache; a skip
    saying why when neither can be had because the network is unreachable."""
    import pytest

    from iml.data.download import DownloadError

    if (local / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        return local
    if os.environ.get("CI"):
        pytest.fail(f"real data not found at {local} (set IML_SHARED_DATA)")
    try:
        return fetch_test_data(cache, sources or canonical_sources())
    except DownloadError as err:
        if not err.unreachable:
            raise
        pytest.skip(f"no local data copy at {local} (IML_SHARED_DATA) and the canonical sources are "
                    f"unreachable, so nothing to test on: {str(err).splitlines()[-1].strip()}")


class _QuietHandler(SimpleHTTPRequestHandler):
    delay = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        time.sleep(self.delay)  # stands in for a distant server's latency
        super().do_GET()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timeout under test) is not news


def serve(directory, delay=0.0):
    """Serve a folder on 127.0.0.1 in a thread, each request `delay` seconds late; returns
    (base URL, server)."""
    handler = type("Handler", (_QuietHandler,), {"delay": delay})
    server = _Server(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def github_archive(recordings, names, dest):
    """A zip of the named FSDD recordings laid out like GitHub's archive of the repository."""
    import zipfile

    from iml.data import fsdd

    top = f"free-spoken-digit-dataset-{fsdd.COMMIT}"
    with zipfile.ZipFile(dest, "w") as bundle:
        bundle.writestr(f"{top}/README.md", "# Free Spoken Digit Dataset\n")
        for name in names:
            bundle.write(recordings / name, f"{top}/recordings/{name}")
    return dest


WORKFLOW_FILES = ["Snakefile", "config.yaml", "rules", "workflow_scripts", "schemas", "presets",
                  "report", "envs", "profiles"]


def copy_workflow(dest):
    """The workflow's own files, copied into a fresh working directory."""
    import shutil

    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


@functools.cache
def local_snakemake_env():
    """The environment for the tests' local Snakemake runs. Snakemake loads the SLURM executor plugin at
    start-up, which asks `scontrol show config` for the cluster's limits; where a SLURM client is installed
    and no controller answers (CI, before and after tests/test_slurm.py runs one) that blocks about 10 s
    per command. Local runs need no answer, so `scontrol` is one that fails at once; the SLURM tests use
    the real one."""
    import stat
    import tempfile

    stub_dir = Path(tempfile.mkdtemp(prefix="iml-no-slurm-"))
    stub = stub_dir / "scontrol"
    stub.write_text("#!/bin/sh\nexit 1\n")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{stub_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def snakemake(workdir, *args, check=True, timeout=2400, env=None):
    """Run snakemake in `workdir` (by default in `local_snakemake_env()`); returns the CompletedProcess
    (stdout and stderr together)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, text=True,
                          env=env or local_snakemake_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-5000:]}")
    return proc


def markdown_cells(text):
    """The rows of a Markdown table (header first), each a list of stripped cells; not the rule line."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not set(line.strip()) <= set("|-: ")]


QUICK_RUN = ["--cores", "2", "--configfile", "presets/quick.yaml", "mirror.yaml"]
VIOLIN = {"source": "john-garner_bwv1002_mov6.mp3", "md5": "c65f020ff7cfca8e339b99078ccf9286"}


def write_mirror_config(workdir, mirror_url, celeba=None):
    """Everything through the mirror on 127.0.0.1, the violin piece included; CELEB-A images
    (user-supplied, never downloaded) from a local folder when given."""
    import yaml

    data = {"mirror": mirror_url, "violin": VIOLIN}
    if celeba:
        data["celeba"] = {"source": str(celeba)}
    (workdir / "mirror.yaml").write_text(yaml.safe_dump({"data": data}))


def celeba_folder(shared_data, dest):
    """The 62 real sample faces (aligned 178x218 and 256x256 test-split images) in one folder;
    None where the data has no faces (fetched on a fresh machine: CelebA cannot be)."""
    images = sorted((shared_data / "celeba_sample").glob("*/*.jpg"))
    if not images:
        return None
    dest.mkdir()
    for image in images:
        (dest / image.name).write_bytes(image.read_bytes())
    return dest
