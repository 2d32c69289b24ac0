import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IML_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """The real data copies (MNIST test files, ...) beside the checkout; CI must have them."""
    if not (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data not found at {SHARED_DATA} (set IML_SHARED_DATA)")
        pytest.skip(f"real data not found at {SHARED_DATA} (set IML_SHARED_DATA)")
    return SHARED_DATA


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    """Serve a folder on 127.0.0.1 in a thread; returns (base URL, server)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture(scope="session")
def mirror_url(shared_data):
    """The shared data served over HTTP, as a data.mirror base URL."""
    url, server = serve(shared_data)
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def mnist_test_images(shared_data):
    from iml.data.mnist import read_idx, to_float

    return to_float(read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz").reshape(-1, 784))
