import os

import pytest
import torch

from tests.helpers import SHARED_DATA, serve


@pytest.fixture(scope="session")
def shared_data():
    """The real data copies (MNIST test files, ...) beside the checkout; CI must have them."""
    if not (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data not found at {SHARED_DATA} (set IML_SHARED_DATA)")
        pytest.skip(f"real data not found at {SHARED_DATA} (set IML_SHARED_DATA)")
    return SHARED_DATA


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


@pytest.fixture
def one_thread():
    """Identical float results between runs (and processes) need the same thread count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
