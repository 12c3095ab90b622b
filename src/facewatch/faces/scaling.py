"""Shrinking an image for a detector, and how far: the arithmetic every detector's search
shares (`detection.py`'s and `centerface.py`'s). A leaf: it imports no detector."""

from __future__ import annotations

import cv2
import numpy as np


def downscale(image: np.ndarray, max_width: int) -> tuple[np.ndarray, float]:
    """The image at most max_width wide, and the factor that maps its coordinates back."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image, 1.0
    factor = max_width / width
    small = cv2.resize(image, (max_width, max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    return small, 1.0 / factor


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-6:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Above half size bilinear samples every pixel at least once and costs a quarter of
    # area averaging; further down only averaging keeps fine detail from aliasing.
    interpolation = cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interpolation)


def search_scale(frame_width: int, max_width: int, min_face_px: int, window_px: int) -> float:
    """The factor to shrink a frame by before searching it: down to `max_width` if the
    smallest face to find still fills the detector's window there, else only that far."""
    if frame_width <= 0:
        return 1.0
    return min(1.0, max(max_width / frame_width, window_px / max(1, min_face_px)))
