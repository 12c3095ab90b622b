"""Turning untrusted bytes into pixels, safely. The size is read from the header and checked
against a pixel limit before anything is decoded, so a decompression bomb costs nothing."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image

from facewatch.exceptions import BadImage

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
_JPEG_ALIASES = {"MPO": "JPEG"}
"""Pillow names a JPEG followed by more images (a phone's depth map or second lens, the
Multi-Picture Format) MPO; its first image is an ordinary JPEG, the one every decoder reads."""


def probe(data: bytes, max_pixels: int) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; BadImage for anything we won't decode."""
    if not data:
        raise BadImage("empty image: no bytes received")
    try:
        with warnings.catch_warnings():
            # PIL warns (and past 2x its own limit, raises) on big images; our limit rules.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(io.BytesIO(data)) as img:
                    fmt, (width, height) = img.format or "", img.size
                    fmt = _JPEG_ALIASES.get(fmt, fmt)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Exception as exc:  # PIL raises many types for garbage; all mean the same here
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise BadImage(f"not a readable image ({len(data)} bytes): {reason}") from exc
    if fmt not in ACCEPTED_FORMATS:
        raise BadImage(f"unsupported image format {fmt or 'unknown'}: send JPEG or PNG")
    if width <= 0 or height <= 0:
        raise BadImage(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise BadImage(f"image too large: {width}x{height} is over the limit of {max_pixels} pixels")
    _check_complete(fmt, data)
    return fmt, width, height


def _check_complete(fmt: str, data: bytes) -> None:
    # libjpeg and libpng "decode" a truncated file into a half-grey picture with only a
    # warning; a frame cut off in transit must be refused, not judged.
    if fmt == "JPEG" and _jpeg_end(data) is None:
        raise BadImage("truncated JPEG: no end-of-image marker")
    if fmt == "PNG" and b"IEND" not in data.rstrip(b"\x00")[-12:]:
        raise BadImage("truncated PNG: no IEND chunk")


def _jpeg_end(data: bytes) -> int | None:
    """Where the first image's end-of-image marker is, None if it has none.

    Not simply the file's last two bytes: phones append more after it (MPF images, vendor
    trailers, a motion photo's video), and those need not be whole for the picture to be.
    The segments before the first scan are stepped over by their lengths, so an EXIF
    thumbnail's own end marker is never taken for the picture's; inside scan data a 0xFF
    byte is always followed by 0x00 or a restart marker, so the first FFD9 after the scan
    starts is the end."""
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker == 0xD9:
            return pos
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
        elif marker == 0xDA:  # start of scan: the end marker follows the image data
            end = data.find(b"\xff\xd9", pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big"))
            return end if end >= 0 else None
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def decode_bgr(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode a JPEG/PNG (8/16-bit, grey, RGBA, CMYK) into an 8-bit 3-channel BGR array."""
    probe(data, max_pixels)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise BadImage("image header is valid but its pixels could not be decoded")
    return image


def encode_jpeg(image_bgr: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BadImage("could not encode the frame as JPEG")
    return buf.tobytes()


def to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_bgr[:, :, ::-1])
