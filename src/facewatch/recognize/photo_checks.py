"""Checks of a photo someone uploads to be known by (the console's People page, a feedback
link's face): what recognize could learn from, under a name safe to store. Apart from
people.py so that naming a face (feedback) does not take in the people changes it never
makes."""

from __future__ import annotations

from pathlib import PurePosixPath

from facewatch.exceptions import BadImage, BadInput
from facewatch.images import decode_bgr, probe
from facewatch.layout import IMAGE_SUFFIXES
from facewatch.recognize.known import largest_face

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


def check_upload(filename: str, data: bytes, max_pixels: int, max_bytes: int) -> str:
    """Refuse a photo recognize could not learn from, as detect refuses a frame: over
    `max_bytes`, not a JPEG/PNG, over the pixel limit (a decompression bomb is refused
    from its header), cut short, or without a face. Returns its format."""
    if len(data) > max_bytes:
        raise BadImage(f"{filename}: {len(data)} bytes is over the limit of {max_bytes}")
    try:
        fmt = probe(data, max_pixels)[0]
        image = decode_bgr(data, max_pixels)
    except BadImage as exc:
        raise BadImage(f"{filename}: {exc}") from exc
    if largest_face(image) is None:
        raise BadInput(f"{filename}: no face found in this photo; nothing was added")
    return fmt
