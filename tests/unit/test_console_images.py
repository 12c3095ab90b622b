"""The console's pictures at the width a page shows them (web/console/images.py): only the
widths it offers, never enlarged, JPEG out whatever came in, and a bounded cache."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.images import decode_bgr, encode_jpeg
from facewatch.web.console.images import WIDTHS, SizedCache, _fit, picture, width_of

SETTINGS = Settings(_env_file=None, bucket="b")  # type: ignore[call-arg]


def test_a_width_is_one_the_pages_use_or_none():
    assert width_of({}) is None and width_of({"w": ""}) is None
    assert [width_of({"w": str(w)}) for w in WIDTHS] == list(WIDTHS)


@pytest.mark.parametrize("bad", ["161", "0", "-160", "abc", "1e3", "99999999999999999999"])
def test_any_other_width_is_refused_before_anything_is_read(bad):
    with pytest.raises(BadInput, match="w must be one of 160, 320"):
        width_of({"w": bad})
    with pytest.raises(BadInput, match="w must be one of"):
        picture(None, SETTINGS, "home", "frame", {"id": "x", "w": bad})  # type: ignore[arg-type]


def frame(width: int, height: int) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 3, (40, 180, 220), -1)
    return image


def test_a_picture_is_shrunk_to_the_width_keeping_its_shape():
    fitted = decode_bgr(_fit(encode_jpeg(frame(1280, 720)), 320, SETTINGS), SETTINGS.max_image_pixels)
    assert fitted.shape[:2] == (180, 320)


def test_a_small_picture_is_not_enlarged_and_a_png_comes_out_as_jpeg():
    ok, png = cv2.imencode(".png", frame(100, 80))
    assert ok
    fitted = _fit(png.tobytes(), 640, SETTINGS)
    assert fitted[:3] == b"\xff\xd8\xff"
    assert decode_bgr(fitted, SETTINGS.max_image_pixels).shape[:2] == (80, 100)


def test_the_cache_keeps_the_most_recently_used_within_its_budget():
    cache = SizedCache(budget=10)
    cache.put(("a",), b"1234")
    cache.put(("b",), b"1234")
    assert cache.get(("a",)) == b"1234"  # now the most recent
    cache.put(("c",), b"1234")
    assert cache.get(("b",)) is None and cache.get(("a",)) == b"1234" and cache.get(("c",)) == b"1234"
    cache.put(("huge",), b"x" * 11)
    assert cache.get(("huge",)) is None and cache.get(("c",)) == b"1234"
