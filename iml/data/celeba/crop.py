"""One CELEB-A image: decoded with Pillow, the largest face found with OpenCV's Haar cascade,
cropped to a padded square and resized (see iml.data.celeba for the choices and why)."""

import io
import os
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iml.data.celeba.source import CelebAFormatError

CASCADE = "haarcascade_frontalface_default.xml"
PAD_MODES = ("edge", "reflect", "constant")
MIN_SIDE = 24  # pixels: the Haar cascade's window; a smaller image holds no detectable face


def opencv():
    try:
        import cv2
    except ImportError as err:
        raise ImportError('CELEB-A preprocessing needs OpenCV: pip install "opencv-python-headless>=4.8,<5" '
                          "(the 4.x wheels ship the Haar cascades as cv2.data.haarcascades)") from err
    return cv2


def cascade_path():
    cv2 = opencv()
    path = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / CASCADE
    if not path.is_file():
        raise FileNotFoundError(f"OpenCV {cv2.__version__} has no {CASCADE} at {path}; "
                                'install "opencv-python-headless>=4.8,<5" (the 5.0 wheels lack the cascade files)')
    return path


@dataclass(frozen=True)
class CropSettings:
    size: int = 64
    margin: float = 0.1
    pad_mode: str = "edge"
    fallback_fraction: float = 1.0
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face: float = 0.3  # smallest face searched for, as a fraction of the shorter image side

    def check(self):
        if self.size < 1 or self.margin < 0 or not 0 < self.fallback_fraction <= 1 or self.scale_factor <= 1 \
                or self.min_neighbors < 0 or not 0 <= self.min_face <= 1:
            raise ValueError(f"bad crop settings {self}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")


def decode_image(data, name="<bytes>"):
    """RGB uint8 (H, W, 3) from encoded bytes, turned upright as its EXIF orientation says;
    CelebAFormatError for anything Pillow cannot decode completely (truncated JPEGs included) and
    for JPEGs whose decoder reports damaged data (Pillow would decode those into garbage silently)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every byte: truncation raises OSError here
            image = ImageOps.exif_transpose(image)  # a camera's sideways image, upright
            if image.mode.startswith("I") or image.mode == "F":  # 16-bit or wider: convert("RGB") would clip at 255
                pixels = _high_depth_to_rgb(image, name)
            else:
                pixels = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise CelebAFormatError(f"{name}: not a readable image ({type(err).__name__}: {err})") from err
    damage = jpeg_damage(data)
    if damage:
        raise CelebAFormatError(f"{name}: damaged JPEG data (the decoder says: {'; '.join(damage)})")
    return pixels


# libjpeg's warnings about the entropy-coded data: decoding goes on past them, with wrong pixels
_JPEG_DAMAGE = ("Corrupt JPEG data", "Premature end of JPEG file")
_stderr_lock = threading.Lock()  # file descriptor 2 is the whole process's


def jpeg_damage(data):
    """libjpeg's warnings about damaged data in a JPEG (none for other formats). Pillow drops them;
    OpenCV's decoder prints them on the process's standard error, read here while it decodes (other
    output written meanwhile is passed on)."""
    if data[:2] != b"\xff\xd8":
        return []
    cv2 = opencv()
    with _stderr_lock, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        lines = captured.read().decode(errors="replace").splitlines()
    others = [line for line in lines if not line.startswith(_JPEG_DAMAGE)]
    if others:
        print("\n".join(others), file=sys.stderr)
    return [line for line in lines if line.startswith(_JPEG_DAMAGE)]


def _high_depth_to_rgb(image, name):
    """16-bit grey (Pillow modes I;16*, or I holding 0..65535) scaled to 8 bits; other integer
    or float pixels have no known full scale and are refused."""
    pixels = np.asarray(image).astype(np.int64) if image.mode != "F" else None
    if pixels is None or pixels.min() < 0 or pixels.max() > 65535:
        raise CelebAFormatError(f"{name}: {image.mode} pixels wider than 16 bits or floating point: "
                                "no 8-bit scale is known for them")
    grey = ((pixels + 128) // 257).astype(np.uint8)  # 65535 -> 255, rounded
    return np.repeat(grey[:, :, None], 3, axis=2)


def detect_largest_face(gray, classifier, settings):
    """(x, y, w, h) of the largest face, and how many were found (0: None)."""
    cv2 = opencv()
    side = int(settings.min_face * min(gray.shape))
    faces = classifier.detectMultiScale(cv2.equalizeHist(gray), scaleFactor=settings.scale_factor,
                                        minNeighbors=settings.min_neighbors, minSize=(side, side))
    if len(faces) == 0:
        return None, 0
    areas = [int(w) * int(h) for _, _, w, h in faces]
    return tuple(int(v) for v in faces[int(np.argmax(areas))]), len(faces)


def crop_box(image_shape, face, settings):
    """Square (x0, y0, x1, y1): the face expanded by the margin, else the centred fallback."""
    height, width = image_shape[:2]
    if face is None:
        side = max(1, int(round(settings.fallback_fraction * min(height, width))))
        cx, cy = width / 2, height / 2
    else:
        x, y, w, h = face
        side = max(1, int(round(max(w, h) * (1 + 2 * settings.margin))))
        cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    return x0, y0, x0 + side, y0 + side


def cut_and_resize(image, box, settings):
    """The box cut out of `image` (padded where it leaves the image) at size x size."""
    cv2 = opencv()
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    pad = [max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width)]  # top bottom left right
    if any(pad):
        border = {"edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101,
                  "constant": cv2.BORDER_CONSTANT}[settings.pad_mode]
        if settings.pad_mode == "reflect" and max(pad) >= min(height, width):
            border = cv2.BORDER_REPLICATE  # reflection cannot reach further than the image itself
        image = cv2.copyMakeBorder(image, *pad, border, value=(0, 0, 0))
        x0, x1, y0, y1 = x0 + pad[2], x1 + pad[2], y0 + pad[0], y1 + pad[0]
    patch = np.ascontiguousarray(image[y0:y1, x0:x1])
    return cv2.resize(patch, (settings.size, settings.size), interpolation=cv2.INTER_AREA)


_local = threading.local()  # per thread (and so per process): the classifier and open zip files


@dataclass(frozen=True)
class Job:
    """Reads, decodes, detects and crops one image; picklable, so it runs in threads or processes."""

    kind: str
    source: str
    settings: CropSettings
    cascade: str

    def _classifier(self):
        key = (os.getpid(), self.cascade)  # a forked worker inherits its parent's thread-locals: key by process
        if getattr(_local, "cascade_key", None) != key:
            _local.classifier, _local.cascade_key = opencv().CascadeClassifier(self.cascade), key
        return _local.classifier

    def _read(self, locator):
        if self.kind == "folder":
            return Path(locator).read_bytes()
        archives = _local.__dict__.setdefault("archives", {})
        key = (os.getpid(), self.source)  # never share an inherited file offset with forked siblings
        if key not in archives:
            archives[key] = zipfile.ZipFile(self.source)
        return archives[key].read(locator)

    def __call__(self, item):
        name, locator = item
        try:
            image = decode_image(self._read(locator), name)
        except (CelebAFormatError, OSError, zipfile.BadZipFile, EOFError) as err:
            reason = str(err).removeprefix(f"{name}: ")
            return name, None, {"reason": reason}
        if min(image.shape[:2]) < MIN_SIDE:
            return name, None, {"reason": f"{image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                                          f"{MIN_SIDE}-pixel side a face is searched for at"}
        gray = opencv().cvtColor(image, opencv().COLOR_RGB2GRAY)
        face, n_faces = detect_largest_face(gray, self._classifier(), self.settings)
        box = crop_box(image.shape, face, self.settings)
        crop = cut_and_resize(image, box, self.settings)
        x0, y0, x1, y1 = box
        record = {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "found": int(face is not None), "n_faces": n_faces,
                  "width": image.shape[1], "height": image.shape[0]}
        return name, crop, record


def close_archives():
    """Close the zip files this thread opened (worker threads' close as the threads end)."""
    for archive in _local.__dict__.pop("archives", {}).values():
        archive.close()
