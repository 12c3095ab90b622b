"""How sharp a face is, which the edge uses to pick frames and recognize to call a face
"unsure": OpenCV only, so the edge never loads the encoder for it."""

from __future__ import annotations

import cv2
import numpy as np

from facewatch.frames import Box


def sharpness(image_bgr: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian over the face: low means blurred (motion or focus)."""
    crop = image_bgr[box.y : box.y + box.h, box.x : box.x + box.w]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    # Judge blur at a fixed scale so big and small faces are held to the same standard.
    gray = cv2.resize(gray, (96, 96), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
