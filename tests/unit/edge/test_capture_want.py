"""FrameSource converts only the frames its caller wants: the others are grabbed (decoded,
not converted), counted as passed, and never yielded."""

from __future__ import annotations

import cv2
import numpy as np

from facewatch.edge.capture import CaptureOptions, FrameSource


class CountingFile:
    """A stand-in for a 10 fps video file of `frames` frames that counts reads and grabs."""

    def __init__(self, frames: int) -> None:
        self.left, self.reads, self.grabs = frames, 0, 0

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_COUNT: 20.0}.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left <= 0:
            return False, None
        self.left -= 1
        self.reads += 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def grab(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.grabs += 1
        return True

    def release(self) -> None:
        pass


def test_unwanted_frames_are_grabbed_not_read(tmp_path) -> None:
    video = CountingFile(20)
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"")
    source = FrameSource(str(path), CaptureOptions(), opener=lambda s, o: video).open()
    asked: list[float] = []

    def want(time: float) -> bool:
        asked.append(time)
        return round(time * 10) % 4 == 0  # frames 0, 4, 8, ...

    frames = list(source.frames(want=want))
    assert [f.index for f in frames] == [0, 4, 8, 12, 16]
    assert [f.time for f in frames] == [0.0, 0.4, 0.8, 1.2, 1.6]
    assert (video.reads, video.grabs, source.passed, source.skipped) == (5, 15, 15, 0)
    assert asked[:20] == [i / 10 for i in range(20)]  # once a frame (and at the end), its own time


def test_max_fps_skips_are_not_asked_about_and_count_apart(tmp_path) -> None:
    video = CountingFile(20)
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"")
    source = FrameSource(str(path), CaptureOptions(max_fps=5), opener=lambda s, o: video).open()
    frames = list(source.frames(want=lambda t: round(t * 10) % 4 == 0))
    # max_fps drops the frame right after each one yielded; the caller refuses the rest
    assert [f.index for f in frames] == [0, 4, 8, 12, 16]
    assert (source.skipped, source.passed) == (5, 10)
