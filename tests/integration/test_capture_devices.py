"""A webcam named by its device path (`--source /dev/video0`) is a live camera: opened with
retries, reopened when it drops, never taken for a missing video file."""

import os
import stat
from pathlib import Path

import pytest

from facewatch.edge.capture import CaptureOptions, FrameSource, SourceError, source_kind
from tests.fake_webcam import UnpluggedWebcam

FAST = CaptureOptions(open_timeout=2, read_timeout=2, first_backoff=0.05, max_backoff=0.2)
CHAR_DEVICE = "/dev/null"  # a character device on every POSIX system, like /dev/video0
needs_char_device = pytest.mark.skipif(
    not (Path(CHAR_DEVICE).exists() and stat.S_ISCHR(os.stat(CHAR_DEVICE).st_mode)),
    reason="needs /dev/null",
)


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

    def opener(source: str, options: CaptureOptions) -> UnpluggedWebcam:
        opened.append(source)
        return UnpluggedWebcam(frames=4)

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
