"""Checks of a photo someone enrolls (`facewatch enroll`, the console's People page, a
camera face named on the console or by a feedback link): what recognize could learn from,
under a name safe to store. The photo is measured here (detector, sharpness, landmarks,
encoding) and judged by photo_gates' pure rules. Apart from people.py so that naming a face
(feedback) does not take in the people changes it never makes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

import numpy as np

from facewatch.exceptions import BadImage, BadInput
from facewatch.faces.detection import HogDetector
from facewatch.faces.encodings import encode_faces
from facewatch.faces.gallery import Gallery
from facewatch.faces.pose import landmarks, yaw_degrees
from facewatch.faces.quality import sharpness
from facewatch.frames import Box
from facewatch.images import decode_bgr, probe, to_rgb
from facewatch.layout import IMAGE_SUFFIXES
from facewatch.recognize.photo_gates import (
    Accepted,
    GateLimits,
    MeasuredPhoto,
    PhotoWarning,
    Refused,
    judge_photo,
)

GREY_SPREAD = 3.0
"""Mean spread between a pixel's colour channels (of 255) under which a photo is grey: an
IR camera's or a black-and-white picture (JPEG's chroma noise stays under 2; colour skin and
clothes lie far above)."""

MAX_STEM = 60
"""known.enroll cuts a photo's name to this many characters; names made here already fit."""


def safe_photo_name(filename: str, fmt: str) -> str:
    """A browser's filename as a photo name: no folder (either slash), only letters, digits,
    '-' and '_' in the stem, an image suffix that fits the format. Made here rather than
    left to enroll, so that names can be made unique before anything is written."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    path = PurePosixPath(base)
    stem = path.stem if path.suffix.lower() in IMAGE_SUFFIXES else base
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")[:MAX_STEM] or "photo"
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES or (fmt == "PNG") != (suffix == ".png"):
        suffix = ".png" if fmt == "PNG" else ".jpg"
    return f"{safe}{suffix}"


class PhotoRefused(BadInput):
    """A photo enrollment refuses (photo_gates): the record says why, for code to branch on;
    the message is for people."""

    def __init__(self, filename: str, refused: Refused) -> None:
        super().__init__(f"{filename}: {refused.text}; nothing was added")
        self.filename = filename
        self.refused = refused


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    """A photo enrollment accepts: its format, what to tell about it, its face's encoding."""

    filename: str
    fmt: str
    warnings: tuple[PhotoWarning, ...]
    encoding: np.ndarray | None = field(default=None, compare=False)

    def lines(self) -> list[str]:
        return [f"{self.filename}: warning: {w.text}" for w in self.warnings]


def is_grey(image_bgr: np.ndarray) -> bool:
    if image_bgr.ndim < 3 or image_bgr.shape[2] == 1:
        return True
    spread = image_bgr.max(axis=2).astype(np.int16) - image_bgr.min(axis=2)
    return float(spread.mean()) < GREY_SPREAD


def measure_photo(image_bgr: np.ndarray, own: np.ndarray) -> tuple[MeasuredPhoto, np.ndarray | None]:
    """Everything judge_photo needs of a photo, and the encoding of its largest face when it
    has one worth encoding. `own`: the encodings (n, 128) of the person's photos already
    there. HOG on the full image, as rebuild_gallery finds the face it learns from."""
    height, width = image_bgr.shape[:2]
    faces = tuple(HogDetector(max_width=max(width, 1), min_face_px=20).detect(image_bgr))
    measured = MeasuredPhoto(width, height, faces, grayscale=is_grey(image_bgr))
    if not faces:
        return measured, None
    box = max(faces, key=lambda b: b.area)
    rgb = to_rgb(image_bgr)
    encoding = encode_faces(rgb, [box])[0]
    nearest = float(np.linalg.norm(own - encoding, axis=1).min()) if len(own) else None
    return MeasuredPhoto(
        width,
        height,
        faces,
        grayscale=measured.grayscale,
        sharpness=sharpness(image_bgr, box),
        yaw_degrees=yaw_degrees(landmarks(rgb, box)),
        nearest_own=nearest,
    ), encoding


def own_encodings(gallery: Gallery | None, name: str) -> np.ndarray:
    """The person's rows of the known set (none when it is not built yet)."""
    if gallery is None or not len(gallery):
        return np.zeros((0, 128), dtype=np.float64)
    rows = [i for i, n in enumerate(gallery.names) if n == name]
    return gallery.encodings[rows].astype(np.float64).reshape(-1, 128)


def check_upload(
    filename: str,
    data: bytes,
    max_pixels: int,
    max_bytes: int,
    limits: GateLimits,
    own: np.ndarray | None = None,
    *,
    upscaled: float = 1.0,
) -> CheckedPhoto:
    """Refuse a photo recognize could not learn from, as detect refuses a frame: over
    `max_bytes`, not a JPEG/PNG, over the pixel limit (a decompression bomb is refused
    from its header), cut short (BadImage); or one photo_gates refuses: no face, several,
    too small or blurred (PhotoRefused). Accepted, it says what to warn about. `upscaled`:
    how much the photo was enlarged from what a camera saw (a face crop, faces.crops): the
    faces are judged at the camera's size."""
    if len(data) > max_bytes:
        raise BadImage(f"{filename}: {len(data)} bytes is over the limit of {max_bytes}")
    try:
        fmt = probe(data, max_pixels)[0]
        image = decode_bgr(data, max_pixels)
    except BadImage as exc:
        raise BadImage(f"{filename}: {exc}") from exc
    measured, encoding = measure_photo(image, np.zeros((0, 128)) if own is None else own)
    if upscaled > 1.0:
        faces = tuple(
            Box(round(b.x / upscaled), round(b.y / upscaled), int(b.w / upscaled), int(b.h / upscaled))
            for b in measured.faces
        )
        width, height = int(measured.width / upscaled), int(measured.height / upscaled)
        measured = replace(measured, faces=faces, width=width, height=height)
    verdict = judge_photo(measured, limits)
    if isinstance(verdict, Refused):
        raise PhotoRefused(filename, verdict)
    assert isinstance(verdict, Accepted)
    return CheckedPhoto(filename, fmt, verdict.warnings, encoding)


def check_batch(
    photos: Sequence[tuple[str, bytes]], max_pixels: int, max_bytes: int, limits: GateLimits, own: np.ndarray
) -> list[CheckedPhoto | PhotoRefused]:
    """Each photo checked in order; a photo is a near copy of the person's photos already
    there or of one before it in the batch. A refusal is returned, not raised, so that a
    door can choose (the CLI keeps the others, the console refuses the batch); other
    errors (unreadable, too large) are raised."""
    out: list[CheckedPhoto | PhotoRefused] = []
    for filename, data in photos:
        try:
            checked = check_upload(filename, data, max_pixels, max_bytes, limits, own)
        except PhotoRefused as refused:
            out.append(refused)
            continue
        out.append(checked)
        if checked.encoding is not None:
            own = np.vstack([own, checked.encoding.reshape(1, 128)])
    return out
