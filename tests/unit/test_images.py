import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from facewatch.exceptions import BadImage
from facewatch.images import decode_bgr, probe

LIMIT = 40_000_000


def png_bytes(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def jpeg_bytes(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", array)
    assert ok
    return buf.tobytes()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose data is a few bytes: the shape
    of a decompression bomb, and of a 20000x20000 upload, as far as the header goes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_colour_jpeg_and_png_decode_to_bgr():
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    assert decode_bgr(png_bytes(image), LIMIT).shape == (48, 64, 3)
    assert decode_bgr(jpeg_bytes(image), LIMIT).shape == (48, 64, 3)


@pytest.mark.parametrize(
    "array",
    [
        np.full((32, 40), 128, np.uint8),  # greyscale
        np.full((32, 40, 3), 40000, np.uint16),  # 16-bit colour
        np.full((32, 40), 40000, np.uint16),  # 16-bit grey
        np.full((32, 40, 4), 200, np.uint8),  # with alpha
    ],
)
def test_unusual_pngs_become_8bit_bgr(array):
    out = decode_bgr(png_bytes(array), LIMIT)
    assert out.dtype == np.uint8
    assert out.shape == (32, 40, 3)


def test_cmyk_jpeg_decodes():
    buf = io.BytesIO()
    Image.new("CMYK", (40, 30), (0, 128, 128, 0)).save(buf, "JPEG")
    assert decode_bgr(buf.getvalue(), LIMIT).shape == (30, 40, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, I am a text file named frame.jpg\n", "not a readable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a readable image"),
        (b"\xff\xd8\xff" + b"garbage" * 10, "not a readable image"),
    ],
)
def test_garbage_is_refused_clearly(data, message):
    with pytest.raises(BadImage, match=message):
        decode_bgr(data, LIMIT)


def test_truncated_files_are_refused():
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    with pytest.raises(BadImage, match="truncated JPEG"):
        decode_bgr(jpeg_bytes(image)[:-200], LIMIT)
    with pytest.raises(BadImage, match="truncated PNG"):
        decode_bgr(png_bytes(image)[:-30], LIMIT)


def test_other_formats_are_refused():
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "GIF")
    with pytest.raises(BadImage, match="unsupported image format GIF"):
        probe(buf.getvalue(), LIMIT)


def test_pixel_limit_is_checked_from_the_header_before_decoding():
    bomb = png_header_only(20000, 20000)
    assert len(bomb) < 200
    with pytest.raises(BadImage, match="20000x20000 is over the limit"):
        decode_bgr(bomb, LIMIT)
