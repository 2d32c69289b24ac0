"""Test helpers shared by several test modules."""

import functools
import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IML_SHARED_DATA", REPO.parent / "shared" / "data"))


class _QuietHandler(SimpleHTTPRequestHandler):
    delay = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        time.sleep(self.delay)  # stands in for a distant server's latency
        super().do_GET()


def serve(directory, delay=0.0):
    """Serve a folder on 127.0.0.1 in a thread, each request `delay` seconds late; returns
    (base URL, server)."""
    handler = type("Handler", (_QuietHandler,), {"delay": delay})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


WORKFLOW_FILES = ["Snakefile", "config.yaml", "rules", "workflow_scripts", "schemas", "presets",
                  "report", "envs", "profiles"]


def copy_workflow(dest):
    """The workflow's own files, copied into a fresh working directory."""
    import shutil

    for name in WORKFLOW_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


def snakemake(workdir, *args, check=True, timeout=2400):
    """Run snakemake in `workdir`; returns the CompletedProcess (stdout and stderr together)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-5000:]}")
    return proc
