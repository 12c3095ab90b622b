"""Real photos made into ones enrollment must refuse (blurred, too small, two people, no
face), with cv2, as JPEG bytes: shared by the CLI, console and feedback tests of the gates."""

from __future__ import annotations

import cv2
import numpy as np

from facewatch.images import encode_jpeg
from tests.conftest import TESTDATA

GOOD = TESTDATA / "known" / "obama" / "obama.jpg"
OTHER = TESTDATA / "known" / "biden" / "biden.jpg"


def _image(path=GOOD) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def blurred() -> bytes:
    return encode_jpeg(cv2.GaussianBlur(_image(), (0, 0), 10), 92)


def small() -> bytes:
    """The face about 30 px wide: HOG still finds it; recognize would not judge it."""
    image = _image()
    return encode_jpeg(cv2.resize(image, None, fx=0.11, fy=0.11, interpolation=cv2.INTER_AREA), 92)


def doubled() -> bytes:
    """Two people side by side."""
    left, right = _image(), _image(OTHER)
    right = cv2.resize(right, (right.shape[1] * left.shape[0] // right.shape[0], left.shape[0]))
    return encode_jpeg(np.hstack([left, right]), 92)


def faceless() -> bytes:
    """The photo's top-left corner: wall, no face."""
    return encode_jpeg(np.ascontiguousarray(_image()[:120, :300]), 92)


REFUSED = {"too-blurred": blurred, "too-small": small, "several-faces": doubled, "no-face": faceless}
"""Refusal kind (photo_gates.Refusal's value) -> the photo that earns it."""
