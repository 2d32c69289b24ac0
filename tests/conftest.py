import pytest
import torch

from tests.helpers import local_or_fetched_data, serve


@pytest.fixture(scope="session")
def shared_data():
    """The real data copies beside the checkout (CI must have them); on a fresh machine, the MNIST
    test files, FSDD and a violin piece fetched from the canonical sources into IML_TEST_CACHE."""
    return local_or_fetched_data()


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
