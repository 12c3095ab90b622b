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


def crop_face(image_bgr: np.ndarray, box: Box, quality: int = 92) -> bytes:
    """The face with a generous margin, as JPEG: the detector that enrolls it needs context."""
    height, width = image_bgr.shape[:2]
    margin = int(max(box.w, box.h) * 0.6)
    x0, y0 = max(0, box.x - margin), max(0, box.y - margin)
    x1, y1 = min(width, box.x + box.w + margin), min(height, box.y + box.h + margin)
    crop = image_bgr[y0:y1, x0:x1]
    if crop.shape[1] < CROP_MIN_WIDTH:
        scale = CROP_MIN_WIDTH / crop.shape[1]
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return encode_jpeg(crop, quality)
