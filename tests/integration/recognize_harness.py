"""What the tests that drive recognize's own code (Recognizer.handle) on a real S3 server share:
a clock that stands still, photos decoded as recognize decodes them, Haar's boxes as the
edge's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from facewatch.faces.detection import HaarDetector
from facewatch.frames import Box
from facewatch.images import decode_bgr

MAX_PIXELS = 40_000_000
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def image(path) -> np.ndarray:
    return decode_bgr(path.read_bytes(), MAX_PIXELS)


def haar_boxes(frame: np.ndarray) -> tuple[Box, ...]:
    boxes = tuple(HaarDetector().detect(frame))
    assert boxes
    return boxes
