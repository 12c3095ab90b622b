"""Face encodings: 128-d dlib vectors for given boxes, and the household's known set
("gallery") stored as one compact .npz object in the bucket."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from facewatch.exceptions import StorageError
from facewatch.facenet import CHIP_PX
from facewatch.frames import Box
from facewatch.models import DLIB_LOCK, face_encoder, shape_predictor

GALLERY_FORMAT = 2
"""How the rows are made. 1: dlib's descriptor of the face chip; 2: the mean of the chip's
and its mirror image's (`describe_chips`). Rows of different formats are not comparable
at the precision the decision rule needs, so a known set of an older format is rebuilt
(`gallery.GalleryCache`, `gallery.rebuild_gallery`)."""
READABLE_FORMATS = (1, GALLERY_FORMAT)


def _rect(box: Box) -> object:
    import dlib

    return dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)


def face_chips(image_rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """Each box's aligned 150x150 chip, cut by dlib exactly as face_recognition's
    face_encodings does (5-point landmarks), shape (len(boxes), 150, 150, 3)."""
    if not boxes:
        return np.zeros((0, CHIP_PX, CHIP_PX, 3), dtype=np.uint8)
    import dlib

    predictor = shape_predictor()
    with DLIB_LOCK:
        shapes = dlib.full_object_detections([predictor(image_rgb, _rect(b)) for b in boxes])
        chips = dlib.get_face_chips(image_rgb, shapes, size=CHIP_PX, padding=0.25)
    return np.stack(chips)


def describe_chips(chips: np.ndarray) -> np.ndarray:
    """One 128-d encoding per chip: the mean of dlib's descriptors of the chip and of its
    mirror image, not re-normalised (dlib's own jitter averages the same way).

    A face and its mirror image are the same person seen from the other side, so the mean
    keeps what is the person's and halves what is this view's: on ~3,000 news photos it
    names 2 points more of 50 known people at the same rate of strangers accepted
    (bench/RESULTS.md), for twice the network time. Both views run in one batch."""
    if not len(chips):
        return np.zeros((0, 128), dtype=np.float64)
    n = len(chips)
    both = face_encoder()(np.concatenate([chips, np.ascontiguousarray(chips[:, :, ::-1])]))
    return (both[:n].astype(np.float64) + both[n:]) / 2.0


def encode_faces(image_rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """One 128-d encoding per box, shape (len(boxes), 128), the same at enroll and at
    recognize: `describe_chips` of the faces' chips.

    dlib finds the landmarks and cuts the chips; the network runs in numpy (facenet.py),
    all the frame's faces and their mirror images in one batch."""
    return describe_chips(face_chips(image_rgb, boxes))


def sharpness(image_bgr: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian over the face: low means blurred (motion or focus)."""
    crop = image_bgr[box.y : box.y + box.h, box.x : box.x + box.w]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    # Judge blur at a fixed scale so big and small faces are held to the same standard.
    gray = cv2.resize(gray, (96, 96), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


@dataclass
class Gallery:
    """A household's known faces: one row per enrolled photo."""

    names: list[str] = field(default_factory=list)
    encodings: np.ndarray = field(default_factory=lambda: np.zeros((0, 128), dtype=np.float32))
    photo_keys: list[str] = field(default_factory=list)
    photo_etags: list[str] = field(default_factory=list)
    format: int = GALLERY_FORMAT
    """How its rows were made (GALLERY_FORMAT); an older one is read but `stale`."""
    derived: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Values the decision code computes from the rows once per gallery (thresholds); a
    gallery is never changed after it is built, so they stay valid."""

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.encodings.shape != (n, 128) or len(self.photo_keys) != n or len(self.photo_etags) != n:
            raise ValueError("gallery columns disagree in length")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))

    @property
    def stale(self) -> bool:
        """Built by an older facewatch: its rows are not comparable with today's encodings."""
        return self.format != GALLERY_FORMAT

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array(self.format),
            names=np.array(self.names, dtype=str),
            encodings=self.encodings.astype(np.float32),
            photo_keys=np.array(self.photo_keys, dtype=str),
            photo_etags=np.array(self.photo_etags, dtype=str),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Gallery:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                built_as = int(npz["format"])
                if built_as not in READABLE_FORMATS:
                    raise ValueError(f"format {built_as} is not one of {READABLE_FORMATS}")
                encodings = npz["encodings"].astype(np.float32).reshape(-1, 128)
                return cls(
                    names=[str(n) for n in npz["names"]],
                    encodings=encodings,
                    photo_keys=[str(k) for k in npz["photo_keys"]],
                    photo_etags=[str(e) for e in npz["photo_etags"]],
                    format=built_as,
                )
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise StorageError(f"known-encodings object is corrupt: {exc}") from exc
