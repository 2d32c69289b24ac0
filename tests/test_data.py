import gzip
import json
import struct

import numpy as np
import pytest
import yaml

from iml.data import download, mnist
from tests.helpers import REPO, serve

TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


def test_reads_real_mnist(shared_data):
    images = mnist.read_idx(shared_data / "mnist" / TEST_IMAGES)
    labels = mnist.read_idx(shared_data / "mnist" / TEST_LABELS)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert 0.1 < (images > 0).mean() < 0.3  # ink on a dark background


def test_truncated_file_is_refused_by_name(shared_data, tmp_path):
    raw = gzip.open(shared_data / "mnist" / TEST_LABELS).read()
    bad = tmp_path / "truncated-idx1-ubyte.gz"
    with gzip.open(bad, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(mnist.MNISTFormatError, match=f"{bad}.*promises shape"):
        mnist.read_idx(bad)


def test_cut_gzip_stream_is_refused_by_name(shared_data, tmp_path):
    data = (shared_data / "mnist" / TEST_LABELS).read_bytes()
    bad = tmp_path / "cut.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(mnist.MNISTFormatError, match=f"{bad}: not a readable gzip"):
        mnist.read_idx(bad)


def test_bad_magic_is_refused(tmp_path):
    bad = tmp_path / "noise.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(mnist.MNISTFormatError, match="bad IDX magic"):
        mnist.read_idx(bad)


def test_test_only_splits_are_disjoint_and_seeded(shared_data):
    files = {name: shared_data / "mnist" / name for name in mnist.POOL_FILES["test_only"]}
    sizes = {"train": 3000, "validation": 500, "test": 1000}
    arrays, info = mnist.make_splits(files, "test_only", sizes, seed=0)
    assert info["counts"] == sizes and "test images" in info["description"]
    assert arrays["x_train"].shape == (3000, 784)
    rows = {name: {arr.tobytes() for arr in arrays[f"x_{name}"]} for name in sizes}
    assert not rows["train"] & rows["test"] and not rows["validation"] & rows["test"]
    again, _ = mnist.make_splits(files, "test_only", sizes, seed=0)
    np.testing.assert_array_equal(again["x_train"], arrays["x_train"])
    other, _ = mnist.make_splits(files, "test_only", sizes, seed=1)
    assert not np.array_equal(other["x_train"], arrays["x_train"])
    with pytest.raises(ValueError, match="'train' asks for 9000"):
        mnist.make_splits(files, "test_only", {**sizes, "train": 9000}, seed=0)


def test_labels_outside_0_to_9_are_refused_naming_the_file(shared_data, tmp_path):
    raw = bytearray(gzip.open(shared_data / "mnist" / TEST_LABELS).read())
    raw[8 + 17] = 255  # label of image 17, after the 8-byte IDX header
    bad = tmp_path / TEST_LABELS
    with gzip.open(bad, "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(mnist.MNISTFormatError, match=f"{bad}: 1 labels outside 0..9 \\(first 255 at index 17\\)"):
        mnist.load_pair(shared_data / "mnist" / TEST_IMAGES, bad)


@pytest.mark.parametrize("pool,sizes,empty", [
    ("test_only", {"train": None, "validation": None, "test": None}, "validation and train"),
    ("test_only", {"train": None, "validation": 5000, "test": 5000}, "train"),
    ("full", {"train": None, "validation": None, "test": None}, "train"),
])
def test_splits_that_leave_one_empty_are_refused(shared_data, pool, sizes, empty):
    files = {name: shared_data / "mnist" / name for name in mnist.POOL_FILES[pool] if "t10k" in name}
    with pytest.raises(ValueError, match=f"leave the {empty} split empty"):
        mnist.split_counts(pool, sizes)
    if pool == "test_only":  # the same check where the data is split
        with pytest.raises(ValueError, match=f"leave the {empty} split empty"):
            mnist.make_splits(files, pool, sizes, seed=0)


def test_fetch_through_http_mirror(mirror_url, tmp_path, shared_data):
    dest = tmp_path / "out" / TEST_LABELS
    download.fetch(TEST_LABELS, dest, mnist.FILES[TEST_LABELS], "mnist", urls=[], mirror=mirror_url)
    assert dest.read_bytes() == (shared_data / "mnist" / TEST_LABELS).read_bytes()


def test_corrupt_mirror_fails_cleanly_then_good_source_wins(shared_data, tmp_path, caplog):
    damaged = tmp_path / "damaged" / "mnist"
    damaged.mkdir(parents=True)
    data = (shared_data / "mnist" / TEST_LABELS).read_bytes()
    (damaged / TEST_LABELS).write_bytes(data[:-10] + bytes(10))
    bad_url, server = serve(tmp_path / "damaged")
    dest = tmp_path / "out" / TEST_LABELS
    try:
        with pytest.raises(download.DownloadError) as err:
            download.fetch(TEST_LABELS, dest, mnist.FILES[TEST_LABELS], "mnist", urls=[], mirror=bad_url)
        actual = download.md5sum(damaged / TEST_LABELS)
        assert TEST_LABELS in str(err.value) and mnist.FILES[TEST_LABELS] in str(err.value)
        assert actual in str(err.value)
        assert not dest.exists() and list(dest.parent.iterdir()) == []  # no partial file left
        # the canonical list is tried after the mirror: a good source there succeeds
        good_url, good_server = serve(shared_data)
        download.fetch(TEST_LABELS, dest, mnist.FILES[TEST_LABELS], "mnist",
                       urls=[f"{good_url}/mnist"], mirror=bad_url)
        good_server.shutdown()
        assert dest.read_bytes() == data
    finally:
        server.shutdown()


def test_folder_mirror_and_missing_file(shared_data, tmp_path):
    dest = tmp_path / TEST_LABELS
    download.fetch(TEST_LABELS, dest, mnist.FILES[TEST_LABELS], "mnist", urls=[], mirror=shared_data)
    assert download.md5sum(dest) == mnist.FILES[TEST_LABELS]
    with pytest.raises(download.DownloadError, match="could not fetch train-images"):
        download.fetch("train-images-idx3-ubyte.gz", tmp_path / "x.gz", "0" * 32, "mnist", urls=[],
                       mirror=tmp_path / "nothing-here", retries=2, backoff=0)
    assert not (tmp_path / "x.gz").exists()


def write_idx(path, array):
    """A gzipped IDX file of uint8 `array`, as the official MNIST files are laid out."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture
def small_official_files(mnist_test_images, tmp_path):
    """The four official files in miniature: a training file of 600 real images and a test file of
    100 others, each image's first two (always blank) pixels holding its number in the files, 0..699."""
    images = np.round(mnist_test_images[:700] * 255).astype(np.uint8)
    labels = np.random.default_rng(0).integers(0, 10, 700).astype(np.uint8)
    images[:, 0], images[:, 1] = np.arange(700) % 256, np.arange(700) // 256
    parts = {"train": slice(0, 600), "t10k": slice(600, 700)}
    for prefix, rows in parts.items():
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images[rows].reshape(-1, 28, 28))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels[rows])
    return {name: tmp_path / name for name in mnist.POOL_FILES["full"]}, labels


def numbers(x):
    return x[:, 0].astype(int) + 256 * x[:, 1].astype(int)


def test_the_default_full_pool_takes_train_and_validation_from_the_training_file(small_official_files, tmp_path):
    default = yaml.safe_load((REPO / "config.yaml").read_text())["data"]["mnist"]
    assert default["pool"] == "full"  # what a user gets without a preset
    assert mnist.split_counts(default["pool"], default["sizes"]) == {"validation": 5000, "train": 55000, "test": 10000}
    files, labels = small_official_files
    sizes = {**default["sizes"], "validation": 100}  # the default's nulls: all that remains
    out = tmp_path / "out"
    mnist.preprocess(list(files.values()), "full", sizes, 0, out / "splits.npz", out / "splits.json")
    arrays, info = dict(np.load(out / "splits.npz")), json.loads((out / "splits.json").read_text())
    assert info["pool"] == "full" and info["counts"] == {"validation": 100, "train": 500, "test": 100}
    train, val, test = (numbers(arrays[f"x_{s}"]) for s in ("train", "validation", "test"))
    assert sorted([*train, *val]) == list(range(600))  # the training file, split without overlap
    assert list(test) == list(range(600, 700))  # the whole test file, in order
    for split, ids in (("train", train), ("validation", val), ("test", test)):
        np.testing.assert_array_equal(arrays[f"y_{split}"], labels[ids])  # each label stays with its image
    again, _ = mnist.make_splits(files, "full", sizes, seed=0)
    other, _ = mnist.make_splits(files, "full", sizes, seed=1)
    assert (numbers(again["x_validation"]) == val).all() and not (numbers(other["x_validation"]) == val).all()
    with pytest.raises(ValueError, match="data split 'validation' asks for 5000 images but only 600 remain"):
        mnist.make_splits(files, "full", default["sizes"], seed=0)


def test_an_audio_source_kind_is_found_in_the_registry_and_read_back_through_iml_data(tmp_path):
    """audio.preprocess reaches every source kind through iml.data.AUDIO_SOURCES; the steps read the
    chunks and the recordings' lengths back through iml.data, from the folder or its splits.json."""
    import soundfile

    from iml import data
    from iml.data import audio

    assert set(data.AUDIO_SOURCES) == {"fsdd", "recordings", "violin"}
    assert all(callable(data.audio_source(kind)) for kind in data.AUDIO_SOURCES)
    with pytest.raises(ValueError, match="no audio source kind 'cello' \\(kinds: fsdd, recordings, violin\\)"):
        data.audio_source("cello")
    t = np.arange(8000) / 8000
    soundfile.write(tmp_path / "tone.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    folder = tmp_path / "violin"  # data/<dataset>/
    folder.mkdir()
    audio.preprocess("violin", tmp_path / "tone.wav", {"source": "violin", "test_fraction": 0.25},
                     {"size": 800, "hop": 400}, folder / "splits.npz", folder / "splits.json")
    x, lengths = data.load_audio_split(folder / "splits.json", "train")
    assert x.dtype == np.float32 and x.shape[1] == 800 and lengths.tolist() == [len(x)]
    assert data.sequence_lengths(folder, "train").tolist() == [len(x)]
    arrays = data.load_audio_splits(folder)
    assert sorted(arrays) == ["lengths_test", "lengths_train", "x_test", "x_train"]
    assert len(x) + len(arrays["x_test"]) == 19 and data.split_info(folder)["test"]["chunks"] == len(arrays["x_test"])
    with pytest.raises(ValueError, match="mnist is an image dataset"):
        data.load_audio_split(tmp_path / "mnist", "train")
