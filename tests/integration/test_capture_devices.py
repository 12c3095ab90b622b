"""A webcam named by its device path (`--source /dev/video0`) is a live camera: opened with
retries, reopened when it drops, never taken for a missing video file."""

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from facewatch.capture import CaptureOptions, FrameSource, SourceError, source_kind

FAST = CaptureOptions(open_timeout=2, read_timeout=2, first_backoff=0.05, max_backoff=0.2)
CHAR_DEVICE = "/dev/null"  # a character device on every POSIX system, like /dev/video0
needs_char_device = pytest.mark.skipif(
    not (Path(CHAR_DEVICE).exists() and stat.S_ISCHR(os.stat(CHAR_DEVICE).st_mode)),
    reason="needs /dev/null",
)


class DroppingWebcam:
    """A capture that delivers `frames` frames and then fails, as an unplugged USB webcam."""

    def __init__(self, frames: int) -> None:
        self.left = frames

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.zeros((48, 64, 3), np.uint8)

    def grab(self) -> bool:
        return self.read()[0]

    def release(self) -> None:
        pass


@needs_char_device
def test_a_device_path_is_a_camera_not_a_file(tmp_path):
    video = tmp_path / "door.mp4"
    video.write_bytes(b"not really")
    assert source_kind(CHAR_DEVICE) == "camera"
    assert source_kind("/dev/video7") == "camera"  # unplugged for now: still a camera
    assert source_kind(str(video)) == "file"
    assert FrameSource(CHAR_DEVICE).live


@needs_char_device
def test_a_device_that_is_no_webcam_is_a_clear_camera_error_after_its_attempts():
    with pytest.raises(SourceError, match=r"camera '/dev/null' could not be opened \(tried 3 times\)"):
        FrameSource(CHAR_DEVICE, FAST).open()


def test_a_webcam_device_that_drops_is_reopened_and_reading_goes_on():
    opened = []

    def opener(source: str, options: CaptureOptions) -> DroppingWebcam:
        opened.append(source)
        return DroppingWebcam(frames=4)

    source = FrameSource("/dev/video0", FAST, opener=opener)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 10:
            break
    source.close()
    assert source.reconnects == 2
    assert opened == ["/dev/video0"] * 3
    assert [f.index for f in frames] == list(range(10))
