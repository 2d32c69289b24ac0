"""CELEB-A preprocessing on the real sample (32 aligned 178x218 images, 30 test-split images at
256x256): face crops, fallbacks, skipped files, splits, zip sources, atomic outputs."""

import csv
import json
import pathlib
import shutil
import zipfile

import numpy as np
import pytest

from iml.data import celeba
from iml.data.celeba import crop
from tests.helpers import celeba_sample_or_skip, import_or_skip


@pytest.fixture(autouse=True, scope="module")
def opencv():
    """Face detection needs OpenCV: without it every test here skips (fails under CI)."""
    import_or_skip("cv2")


@pytest.fixture(scope="module")
def sample(shared_data):
    return celeba_sample_or_skip(shared_data)


@pytest.fixture(scope="module")
def pooled(sample, tmp_path_factory):
    """The 62 sample images in one folder, with a partition file: the 32 aligned images
    split 24 train / 4 validation / 4 test, the 30 resized test images as test; one image
    left unlisted, and two listed names absent from the folder."""
    folder = tmp_path_factory.mktemp("celeba") / "img_align_celeba"
    folder.mkdir()
    for sub in ("img_align_celeba", "test_256x256"):
        for path in sorted((sample / sub).glob("*.jpg")):
            shutil.copy(path, folder / path.name)
    names = sorted(p.name for p in folder.glob("*.jpg"))
    assert len(names) == 62
    lines = []
    for name in names:
        number = int(name[:6])
        if number == 32:
            continue  # unlisted
        lines.append(f"{name} {0 if number <= 24 else 1 if number <= 28 else 2}")
    lines += ["999998.jpg 0", "999999.jpg 2"]  # listed but absent
    partition = folder.parent / "list_eval_partition.txt"
    partition.write_text("\n".join(lines) + "\n")
    return folder, partition


@pytest.fixture(scope="module")
def official(pooled, tmp_path_factory):
    folder, partition = pooled
    out = tmp_path_factory.mktemp("out")
    info = celeba.crop_faces(folder, partition, out, threads=2)
    return info, out


def read_crops(out):
    with open(out / "crops.csv", newline="") as f:
        return list(csv.DictReader(f))


def listed(path):
    return [line.split("\t")[0] for line in path.read_text().splitlines() if not line.startswith("#")]


def test_faces_found_and_cropped_on_real_images(official):
    info, out = official
    rows = read_crops(out)
    found = {r["name"]: r["found"] == "1" for r in rows}
    aligned = [n for n in found if int(n[:6]) <= 32]
    resized = [n for n in found if int(n[:6]) > 32]
    assert len(aligned) == 31 and len(resized) == 30
    assert sum(found[n] for n in aligned) >= 28  # the Haar cascade finds (nearly) every aligned face
    assert sum(found[n] for n in resized) >= 24
    for r in rows:
        if r["found"] == "1" and r["width"] == "178":  # aligned CelebA: the face sits near the centre
            cx, cy = (int(r["x0"]) + int(r["x1"])) / 2, (int(r["y0"]) + int(r["y1"])) / 2
            assert abs(cx - 89) < 20 and abs(cy - 118) < 25, r
            assert int(r["x1"]) - int(r["x0"]) == int(r["y1"]) - int(r["y0"])  # square
    assert listed(out / "no_face.txt") == sorted(n for n, f in found.items() if not f)
    assert info["n_no_face"] == sum(not f for f in found.values())


def test_outputs_are_uint8_faces_and_the_csv_names_every_row(official):
    info, out = official
    rows = read_crops(out)
    for split in celeba.SPLITS:
        images = celeba.load_split_images(out / f"{split}.npy", size=64)
        assert isinstance(images, np.memmap) and not images.flags.writeable
        assert images.dtype == np.uint8 and images.shape[1:] == (64, 64, 3)
        assert len(images) == info["counts"][split]
        in_split = [r for r in rows if r["split"] == split]
        assert [int(r["row"]) for r in in_split] == list(range(len(images)))
        assert [r["name"] for r in in_split] == sorted(r["name"] for r in in_split)
        assert images.std() > 20  # real pictures, not blank
    assert json.loads((out / "info.json").read_text()) == info
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_the_partition_file_is_honoured(official):
    info, out = official
    by_split = {s: {r["name"] for r in read_crops(out) if r["split"] == s} for s in celeba.SPLITS}
    assert info["counts"] == {"train": 24, "validation": 4, "test": 3 + 30}
    assert by_split["train"] == {f"{i:06d}.jpg" for i in range(1, 25)}
    assert by_split["validation"] == {f"{i:06d}.jpg" for i in range(25, 29)}
    assert {f"{i:06d}.jpg" for i in range(29, 32)} < by_split["test"]
    assert info["n_unlisted"] == 1 and "000032.jpg" in listed(out / "skipped.txt")
    assert info["n_missing"] == 2 and info["missing_examples"] == ["999998.jpg", "999999.jpg"]
    assert info["split_method"].startswith("official partition file")


def test_split_sizes_cap_the_official_splits(pooled, tmp_path):
    folder, partition = pooled
    names = sorted(p.name for p in folder.glob("*.jpg"))
    splits = celeba.assign_splits(names, celeba.read_partition(partition), {"train": 10, "test": 0.5}, seed=3)
    assert [len(splits[s]) for s in celeba.SPLITS] == [10, 4, 16]
    assert set(splits["train"]) < {f"{i:06d}.jpg" for i in range(1, 25)}
    assert splits == celeba.assign_splits(names, celeba.read_partition(partition), {"train": 10, "test": 0.5}, seed=3)


def test_seeded_split_without_a_partition_file():
    names = [f"{i:06d}.jpg" for i in range(1, 101)]
    splits = celeba.assign_splits(names, None, None, seed=0)
    assert [len(splits[s]) for s in celeba.SPLITS] == [80, 10, 10]
    assert set().union(*splits.values()) == set(names)
    splits = celeba.assign_splits(names, None, {"train": 50, "validation": 5, "test": 0.2}, seed=1)
    assert [len(splits[s]) for s in celeba.SPLITS] == [50, 5, 20]
    assert splits != celeba.assign_splits(names, None, {"train": 50, "validation": 5, "test": 0.2}, seed=2)
    with pytest.raises(ValueError, match="asks for 200 images"):
        celeba.assign_splits(names, None, {"test": 200})
    with pytest.raises(ValueError, match="unknown split"):
        celeba.assign_splits(names, None, {"valid": 2})


def test_no_face_truncated_and_non_image_files(sample, tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in (1, 2, 3):
        shutil.copy(sample / "img_align_celeba" / f"00000{i}.jpg", folder)
    gradient = np.broadcast_to(np.linspace(0, 255, 178, dtype=np.uint8)[None, :, None], (218, 178, 3))
    Image.fromarray(np.ascontiguousarray(gradient)).save(folder / "gradient.png")
    data = (sample / "img_align_celeba" / "000005.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "fake.jpg").write_text("not a JPEG at all\n")
    (folder / "notes.txt").write_text("a stray file\n")
    (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored

    info = celeba.crop_faces(folder, None, tmp_path / "out", split_sizes={"test": 0, "validation": 0})
    out = tmp_path / "out"
    assert info["counts"] == {"train": 4, "validation": 0, "test": 0}
    assert info["selected"]["train"] == 6  # truncated.jpg and fake.jpg were selected, then skipped
    skipped = dict(line.split("\t") for line in (out / "skipped.txt").read_text().splitlines()[1:])
    assert set(skipped) == {"truncated.jpg", "fake.jpg", "notes.txt"}
    assert "truncated" in skipped["truncated.jpg"] and "not an image file" in skipped["notes.txt"]
    assert listed(out / "no_face.txt") == ["gradient.png"]
    rows = {r["name"]: r for r in read_crops(out)}
    assert set(rows) == {"000001.jpg", "000002.jpg", "000003.jpg", "gradient.png"}
    assert rows["gradient.png"]["found"] == "0"
    assert [int(rows["gradient.png"][k]) for k in ("x0", "y0", "x1", "y1")] == [0, 20, 178, 198]  # centred square
    train = celeba.load_split_images(out / "train.npy")
    expected = celeba.cut_and_resize(np.asarray(gradient), (0, 20, 178, 198), celeba.CropSettings())
    np.testing.assert_array_equal(train[int(rows["gradient.png"]["row"])], expected)

    dropped = celeba.crop_faces(folder, None, tmp_path / "out2", split_sizes={"test": 0, "validation": 0},
                                on_no_face="drop")
    assert dropped["counts"]["train"] == 3 and dropped["n_no_face"] == 1
    assert rows["gradient.png"]["name"] in listed(tmp_path / "out2" / "no_face.txt")


def test_padding_at_the_borders():
    image = np.full((20, 30, 3), 7, np.uint8)
    image[:, 0] = 200  # left column
    settings = celeba.CropSettings(size=10, pad_mode="constant")
    crop = celeba.cut_and_resize(image, (-10, 0, 10, 20), settings)  # half outside on the left
    assert crop[:, :4].max() == 0 and crop[:, 6:].min() > 0
    edge = celeba.cut_and_resize(image, (-10, 0, 10, 20), celeba.CropSettings(size=10, pad_mode="edge"))
    assert edge[:, :4].min() == 200


def test_a_zip_source_works_like_its_folder(sample, tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i in range(1, 9):
        shutil.copy(sample / "img_align_celeba" / f"{i:06d}.jpg", folder)
    archive = tmp_path / "img_align_celeba.zip"
    with zipfile.ZipFile(archive, "w") as z:  # laid out like the official zip: img_align_celeba/000001.jpg ...
        for path in sorted(folder.iterdir()):
            z.write(path, f"img_align_celeba/{path.name}")
    sizes = {"test": 2, "validation": 2}
    a = celeba.crop_faces(archive, None, tmp_path / "from_zip", split_sizes=sizes, threads=2)
    b = celeba.crop_faces(tmp_path, None, tmp_path / "from_folder", split_sizes=sizes)  # finds img_align_celeba/
    assert a["source_kind"] == "zip" and b["source_kind"] == "folder"
    assert a["counts"] == b["counts"] == {"train": 4, "validation": 2, "test": 2}
    for name in ("train.npy", "validation.npy", "test.npy", "crops.csv", "no_face.txt", "skipped.txt"):
        assert (tmp_path / "from_zip" / name).read_bytes() == (tmp_path / "from_folder" / name).read_bytes(), name


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_process_workers_give_the_same_arrays(sample, tmp_path, kind):
    source = sample / "img_align_celeba"
    if kind == "zip":
        archive = tmp_path / "img_align_celeba.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for path in sorted(source.glob("*.jpg"))[:16]:
                z.write(path, f"img_align_celeba/{path.name}")
        source = archive
    sizes = {"test": 4, "validation": 4, "train": 8}
    # inline first: the main thread's cached zip handle must not leak into the forked workers
    celeba.crop_faces(source, None, tmp_path / "t", split_sizes=sizes, threads=1)
    celeba.crop_faces(source, None, tmp_path / "p", split_sizes=sizes, threads=2, executor="process")
    for name in ("train.npy", "test.npy", "crops.csv"):
        assert (tmp_path / "t" / name).read_bytes() == (tmp_path / "p" / name).read_bytes()


def test_a_missing_source_says_where_to_get_it(tmp_path):
    target = tmp_path / "data" / "celeba" / "img_align_celeba.zip"
    with pytest.raises(celeba.CelebAMissingError) as err:
        celeba.crop_faces(target, tmp_path / "list_eval_partition.txt", tmp_path / "out")
    message = str(err.value)
    assert str(target) in message and "img_align_celeba.zip" in message
    assert "mmlab.ie.cuhk.edu.hk/projects/CelebA" in message and "drive.google.com" in message
    assert str(tmp_path / "list_eval_partition.txt") in message
    assert not (tmp_path / "out").exists()


def test_bad_partition_files_are_refused_by_line(sample, tmp_path):
    missing = tmp_path / "list_eval_partition.txt"
    with pytest.raises(celeba.CelebAMissingError, match="drive.google.com"):
        celeba.read_partition(missing)
    missing.write_text("000001.jpg 0\n000002.jpg 7\n")
    with pytest.raises(celeba.CelebAFormatError, match=r"list_eval_partition.txt:2"):
        celeba.read_partition(missing)


def test_nothing_appears_under_a_final_name_when_a_run_fails(sample, tmp_path, monkeypatch):
    calls = []
    real = crop.Job.__call__

    def failing(self, item):
        calls.append(item)
        if len(calls) > 5:
            raise RuntimeError("disk on fire")
        return real(self, item)

    monkeypatch.setattr(crop.Job, "__call__", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        celeba.crop_faces(sample / "img_align_celeba", None, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_load_split_images_refuses_other_arrays(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(celeba.CelebAFormatError, match="bad.npy"):
        celeba.load_split_images(tmp_path / "bad.npy")
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        celeba.load_split_images(tmp_path / "nope.npy")


def test_high_bit_depth_and_tiny_images(sample, tmp_path):
    """A 16-bit PNG is scaled to 8 bits (not saturated at 255), 32-bit float pixels and images
    too small to hold a face are skipped and named."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(sample / "img_align_celeba" / "000001.jpg", folder)
    grey = np.asarray(Image.open(folder / "000001.jpg").convert("L"))
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "deep.png")  # 16-bit, same picture
    assert Image.open(folder / "deep.png").mode.startswith("I")
    Image.fromarray(grey.astype(np.float32)).save(folder / "float.png", format="TIFF")  # named .png, read by content
    Image.fromarray(np.full((1, 1, 3), 90, np.uint8)).save(folder / "dot.png")
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(folder / "thumb.png")
    np.testing.assert_array_equal(celeba.decode_image((folder / "deep.png").read_bytes())[:, :, 1], grey)

    info = celeba.crop_faces(folder, None, tmp_path / "out", split_sizes={"test": 0, "validation": 0})
    skipped = dict(line.split("\t") for line in (tmp_path / "out" / "skipped.txt").read_text().splitlines()[1:])
    assert set(skipped) == {"float.png", "dot.png", "thumb.png"} and info["n_skipped"] == 3
    assert "1x1 pixels, smaller than the 24-pixel side" in skipped["dot.png"]
    assert "30x20 pixels" in skipped["thumb.png"] and "floating point" in skipped["float.png"]
    rows = {r["name"]: r for r in read_crops(tmp_path / "out")}
    assert set(rows) == {"000001.jpg", "deep.png"} and rows["deep.png"]["found"] == "1"
    train = celeba.load_split_images(tmp_path / "out" / "train.npy")
    deep = train[int(rows["deep.png"]["row"])]
    assert (deep == 255).mean() < 0.05 and abs(int(deep.mean()) - int(train[int(rows["000001.jpg"]["row"])].mean())) < 30


def test_a_failed_shrink_leaves_no_shrink_file_and_a_killed_one_is_removed_next_run(sample, tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in (1, 2, 3):
        shutil.copy(sample / "img_align_celeba" / f"00000{i}.jpg", folder)
    (folder / "fake.jpg").write_text("not a JPEG\n")  # skipped: the split is shrunk
    sizes = {"test": 0, "validation": 0}
    real_replace = pathlib.Path.replace

    def disk_full(self, target):
        if self.name.endswith(".shrink"):
            raise OSError(28, "No space left on device")
        return real_replace(self, target)

    monkeypatch.setattr(pathlib.Path, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        celeba.crop_faces(folder, None, tmp_path / "out", split_sizes=sizes)
    assert list((tmp_path / "out").iterdir()) == []  # no .shrink, no .part, no final name
    monkeypatch.undo()
    # what a SIGKILL during the shrink leaves, removed when the step runs again
    (tmp_path / "out" / ".train.npy.0badf00d.part").write_bytes(b"x" * 1000)
    (tmp_path / "out" / ".train.npy.0badf00d.part.shrink").write_bytes(b"x" * 1000)
    info = celeba.crop_faces(folder, None, tmp_path / "out", split_sizes=sizes)
    assert info["counts"]["train"] == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "crops.csv", "info.json", "no_face.txt", "skipped.txt", "test.npy", "train.npy", "validation.npy"]


def test_a_damaged_jpeg_is_skipped_named_and_counted(sample, tmp_path):
    """2000 bytes zeroed mid-file decoded silently (a mean pixel error of 39.8) and became a fallback crop."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in (1, 2):
        shutil.copy(sample / "img_align_celeba" / f"00000{i}.jpg", folder)
    data = bytearray((sample / "img_align_celeba" / "000003.jpg").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 2000] = bytes(2000)
    (folder / "damaged.jpg").write_bytes(bytes(data))
    info = celeba.crop_faces(folder, None, tmp_path / "out", split_sizes={"test": 0, "validation": 0}, threads=2)
    assert info["counts"]["train"] == 2 and info["n_skipped"] == 1
    skipped = dict(line.split("\t") for line in (tmp_path / "out" / "skipped.txt").read_text().splitlines()[1:])
    assert list(skipped) == ["damaged.jpg"] and skipped["damaged.jpg"].startswith("damaged JPEG data")
    assert "Corrupt JPEG data" in skipped["damaged.jpg"]


def test_an_exif_rotated_jpeg_is_turned_upright(sample, tmp_path):
    """A camera's image stored sideways with EXIF orientation 6 stayed sideways (no face, a fallback crop)."""
    import io

    from PIL import Image

    upright = crop.decode_image((sample / "img_align_celeba" / "000001.jpg").read_bytes())
    sideways = Image.fromarray(upright).rotate(90, expand=True)  # what the sensor stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    shown = crop.decode_image(buffer.getvalue(), "sideways.jpg")
    assert shown.shape == upright.shape
    assert np.abs(shown.astype(float) - upright).mean() < 3  # the same picture, up to JPEG re-encoding
    settings = celeba.CropSettings()
    gray = crop.opencv().cvtColor(shown, crop.opencv().COLOR_RGB2GRAY)
    face, _ = crop.detect_largest_face(gray, crop.opencv().CascadeClassifier(str(crop.cascade_path())), settings)
    assert face is not None
