"""Fixtures shared by the whole test run: the real data, and the work several test modules share (the MNIST split
of the quick preset, PCA codes of MNIST with each base fitted on them, the FSDD digit-0
autoencoder), each done once per test run."""

import copy
import time

import numpy as np
import pytest
import torch
import yaml

from tests.helpers import (
    QUICK_BASES,
    QUICK_RUN,
    REPO,
    celeba_folder,
    copy_workflow,
    local_or_fetched_data,
    serve,
    snakemake,
    write_mirror_config,
)


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

@pytest.fixture(scope="session")
def mnist_quick_split(shared_data, tmp_path_factory):
    """MNIST's data module end to end, once: the test files fetched through the data copy as a
    mirror, then split as the quick preset splits them (its pool, sizes and split seed)."""
    from iml.data import mnist

    quick = yaml.safe_load((REPO / "presets" / "quick.yaml").read_text())["data"]["mnist"]
    seed = yaml.safe_load((REPO / "config.yaml").read_text())["data"]["mnist"]["split_seed"]
    raw, out = tmp_path_factory.mktemp("mnist_raw"), tmp_path_factory.mktemp("data") / "mnist"  # data/<dataset>/
    out.mkdir()
    paths = []
    for name in mnist.POOL_FILES[quick["pool"]]:
        mnist.download(name, raw / name, mirror=str(shared_data), retries=1, timeout=10)
        paths.append(raw / name)
    mnist.preprocess(paths, quick["pool"], quick["sizes"], seed, out / "splits.npz", out / "splits.json")
    return out


@pytest.fixture(scope="session")
def mnist_codes(mnist_test_images):
    """Real codes: 3000 MNIST test images projected on their first 8 principal components
    (fitted on the first 2000), split 2000 / 500 / 500."""
    x = mnist_test_images[:3000].astype(np.float64)
    mean = x[:2000].mean(0)
    _, _, vt = np.linalg.svd(x[:2000] - mean, full_matrices=False)
    codes = (x - mean) @ vt[:8].T
    return codes[:2000], codes[2000:2500], codes[2500:]


def fit_quick_base(name, codes, random_state):
    """A base of QUICK_BASES fitted on (training, validation, test) codes as the workflow fits it:
    choosing on the validation codes (N(0, I) takes none)."""
    from iml.bases import build_base

    train, val, _ = codes
    base = build_base(name, QUICK_BASES[name], random_state=random_state)
    return base.fit(train) if name == "standard_normal" else base.fit(train, validation=val)


@pytest.fixture(scope="session")
def fitted_base(mnist_codes):
    """fitted_base(name): a fresh copy of that base of QUICK_BASES, fitted once per test run on the
    MNIST codes (random_state 4, one thread); a copy, so a test's draws leave the next test's alone."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fits = {name: fit_quick_base(name, mnist_codes, 4) for name in QUICK_BASES}
    finally:
        torch.set_num_threads(previous)
    return lambda name: copy.deepcopy(fits[name])


@pytest.fixture(scope="session")
def fsdd_digit0(shared_data, tmp_path_factory):
    """FSDD digit 0 as the workflow splits it (every training recording, speaker theo held out:
    2459 chunks) and a small conv autoencoder (K = 80) trained on it for 4 epochs by the workflow's
    train step: (data folder, model path, split arrays)."""
    from iml.data import fsdd
    from iml.io import save_json, save_npz
    from iml.steps import train as steps

    data_dir, run = tmp_path_factory.mktemp("fsdd_digit0"), tmp_path_factory.mktemp("fsdd_digit0_run")
    arrays, info = fsdd.make_splits(fsdd.recordings(shared_data / "fsdd" / "recordings", fsdd.manifest()),
                                    [0], None, ["theo"], seed=0)
    save_npz(data_dir / "splits.npz", **arrays)
    save_json(data_dir / "splits.json", info)
    settings = {"model": {"channels": [8, 16]}, "train": {"epochs": 4, "batch_size": 64, "lr": 1e-3}}
    steps.train_model(data_dir, "iml_audio", 80, settings, 0, "cpu", run / "model.pt", run / "loss.csv",
                      [run / "loss.png"], run / "train.ckpt")
    return data_dir, run / "model.pt", arrays


@pytest.fixture(scope="session")
def workflow_dir(tmp_path_factory, mirror_url, shared_data):
    """One copy of the workflow, downloading through the mirror on 127.0.0.1 (the sample faces as
    CELEB-A): every workflow run of the tests shares it, and with it the raw downloads, which every
    results_dir shares (data.download_dir)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    write_mirror_config(workdir, mirror_url, celeba_folder(shared_data, tmp_path_factory.mktemp("c") / "faces"))
    return workdir


@pytest.fixture(scope="session")
def quick_run(workflow_dir):
    """The quick preset run once end to end: (working directory, snakemake's output)."""
    t0 = time.time()
    proc = snakemake(workflow_dir, *QUICK_RUN)
    print(f"quick preset: {time.time() - t0:.0f} s")
    return workflow_dir, proc
