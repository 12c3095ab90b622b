"""A stand-in for cv2.VideoCapture on a live camera: it delivers `frames` frames, then fails
as an unplugged USB webcam does. Given a clock, each frame advances it by `step` seconds,
so a test's timing does not depend on how fast the machine is."""

from __future__ import annotations

import numpy as np


class UnpluggedWebcam:
    def __init__(
        self,
        frames: int,
        image: np.ndarray | None = None,
        clock: list[float] | None = None,
        step: float = 0.05,
    ) -> None:
        self.left = frames
        self.image = np.zeros((48, 64, 3), np.uint8) if image is None else image
        self.clock, self.step = clock, step

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left <= 0:
            return False, None
        self.left -= 1
        if self.clock is not None:
            self.clock[0] += self.step
        return True, self.image.copy()

    def grab(self) -> bool:
        return self.read()[0]

    def release(self) -> None:
        pass
