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

GALLERY_FORMAT = 1


def _rect(box: Box) -> object:
    import dlib

    return dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)


def encode_faces(image_rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """One 128-d encoding per box, shape (len(boxes), 128): face_recognition's
    face_encodings with its defaults (5-point landmarks, no jitter), within 1e-6.

    dlib finds the landmarks and cuts each face's aligned 150x150 chip exactly as its
    compute_face_descriptor does; the network then runs in numpy (facenet.py), all the
    frame's faces in one batch, ~5x faster than dlib-bin's own code."""
    if not boxes:
        return np.zeros((0, 128), dtype=np.float64)
    import dlib

    predictor, encoder = shape_predictor(), face_encoder()
    with DLIB_LOCK:
        shapes = dlib.full_object_detections([predictor(image_rgb, _rect(b)) for b in boxes])
        chips = dlib.get_face_chips(image_rgb, shapes, size=CHIP_PX, padding=0.25)
    return encoder(np.stack(chips)).astype(np.float64)


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

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array(GALLERY_FORMAT),
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
                if int(npz["format"]) != GALLERY_FORMAT:
                    raise ValueError(f"format {int(npz['format'])} is not {GALLERY_FORMAT}")
                encodings = npz["encodings"].astype(np.float32).reshape(-1, 128)
                return cls(
                    names=[str(n) for n in npz["names"]],
                    encodings=encodings,
                    photo_keys=[str(k) for k in npz["photo_keys"]],
                    photo_etags=[str(e) for e in npz["photo_etags"]],
                )
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise StorageError(f"known-encodings object is corrupt: {exc}") from exc
