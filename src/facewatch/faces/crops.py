"""A face cut out of its frame with room around it, as the small JPEG kept of a stranger
and shown on pages: the detector that later enrolls it needs the context."""

from __future__ import annotations

import cv2
import numpy as np

from facewatch.frames import Box
from facewatch.images import encode_jpeg

CROP_MIN_WIDTH = 160
"""Crops are upscaled to at least this width so HOG (80 px window) finds the face again
when a named stranger's crops are enrolled."""


def _bounds(width: int, height: int, box: Box) -> tuple[int, int, int, int]:
    margin = int(max(box.w, box.h) * 0.6)
    x0, y0 = max(0, box.x - margin), max(0, box.y - margin)
    return x0, y0, min(width, box.x + box.w + margin), min(height, box.y + box.h + margin)


def crop_scale(image_bgr: np.ndarray, box: Box) -> float:
    """How much crop_face enlarges this face (1 when it does not): an upscaled face has no
    more detail than the camera gave it, which enrollment's size gate must know."""
    x0, _, x1, _ = _bounds(image_bgr.shape[1], image_bgr.shape[0], box)
    return max(1.0, CROP_MIN_WIDTH / max(1, x1 - x0))


def crop_face(image_bgr: np.ndarray, box: Box, quality: int = 92) -> bytes:
    """The face with a generous margin, as JPEG: the detector that enrolls it needs context."""
    x0, y0, x1, y1 = _bounds(image_bgr.shape[1], image_bgr.shape[0], box)
    crop = image_bgr[y0:y1, x0:x1]
    scale = crop_scale(image_bgr, box)
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return encode_jpeg(crop, quality)
