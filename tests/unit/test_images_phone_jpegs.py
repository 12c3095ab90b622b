"""JPEGs as phones write them: with more images after the first (Pillow calls them MPO),
with bytes after the end marker, with an EXIF thumbnail; none of it hides a truncated one."""

import io
import struct

import numpy as np
import pytest
from PIL import Image

from facewatch.exceptions import BadImage
from facewatch.images import decode_bgr, probe

LIMIT = 40_000_000


def picture(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def jpeg(image: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **options)
    return buf.getvalue()


def mpo() -> bytes:
    """A photo with a second image after it, as a dual-camera phone saves one."""
    buf = io.BytesIO()
    picture().save(buf, "MPO", save_all=True, append_images=[picture(seed=1)])
    return buf.getvalue()


def with_thumbnail(main: bytes, thumbnail: bytes) -> bytes:
    """`main` with an APP1 segment holding a whole JPEG (end marker included) first."""
    payload = b"Exif\0\0" + thumbnail
    return main[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + main[2:]


def test_a_multi_picture_jpeg_is_a_jpeg():
    data = mpo()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert probe(data, LIMIT) == ("JPEG", 96, 64)
    assert decode_bgr(data, LIMIT).shape == (64, 96, 3)


@pytest.mark.parametrize(
    "trailer",
    [b"\0" * 64, b"SEFH" + bytes(range(256)) * 40, b"\xff\xd8\xff" + b"\x9a" * 20_000],
    ids=["zeros", "vendor trailer", "a video after it"],
)
def test_bytes_after_the_end_marker_are_not_truncation(trailer):
    data = jpeg(picture()) + trailer
    assert probe(data, LIMIT) == ("JPEG", 96, 64)
    assert decode_bgr(data, LIMIT).shape == (64, 96, 3)


def test_a_truncated_multi_picture_jpeg_is_still_refused():
    data = mpo()
    first_end = data.index(b"\xff\xd9", data.index(b"\xff\xda"))
    with pytest.raises(BadImage, match="truncated JPEG"):
        probe(data[: first_end - 100], LIMIT)


def test_a_thumbnails_end_marker_does_not_pass_for_the_pictures():
    thumbnail = jpeg(picture(16, 12, seed=2))
    data = with_thumbnail(jpeg(picture(seed=3)), thumbnail)
    assert probe(data, LIMIT) == ("JPEG", 96, 64)  # whole: accepted
    for cut in (200, 1000, len(data) // 2):
        with pytest.raises(BadImage, match="truncated JPEG"):
            probe(data[:-cut], LIMIT)
