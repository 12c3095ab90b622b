"""Frame sources: files, and a real MJPEG stream over HTTP that drops and comes back."""

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from facewatch.edge.capture import CaptureOptions, FrameSource, SourceError, redact
from tests.conftest import TESTDATA, make_video
from tests.mjpeg_camera import MjpegCamera


@pytest.fixture
def camera() -> Iterator[MjpegCamera]:
    cam = MjpegCamera(frames_per_connection=10)
    yield cam
    cam.close()


FAST = CaptureOptions(open_timeout=2, read_timeout=2, first_backoff=0.05, max_backoff=0.2)


def test_a_missing_file_is_a_clear_error():
    with pytest.raises(SourceError, match="does not exist"):
        FrameSource("/nonexistent/door.mp4").open()


def test_a_file_that_is_not_a_video_is_a_clear_error(tmp_path):
    bogus = tmp_path / "door.mp4"
    bogus.write_text("this is not a video")
    with pytest.raises(SourceError, match=r"could not be opened|no frame"):
        list(FrameSource(str(bogus)).frames())


def test_a_stream_that_never_opens_is_a_clear_error_after_its_attempts():
    source = FrameSource("http://user:secret@127.0.0.1:9/none.mjpg", FAST)
    with pytest.raises(SourceError, match=r"tried 3 times") as caught:
        source.open()
    assert "secret" not in str(caught.value)


def test_a_file_is_read_on_its_own_clock(tmp_path):
    video = make_video(TESTDATA / "faces" / "obama3.jpg", tmp_path / "door.mp4", seconds=2, fps=10)
    frames = list(FrameSource(str(video)).frames())
    assert len(frames) == 20
    assert [f.time for f in frames[:3]] == pytest.approx([0.0, 0.1, 0.2])
    later = (frames[10].captured_at - frames[0].captured_at).total_seconds()
    assert later == pytest.approx(1.0)


def test_max_fps_and_size_limits(tmp_path):
    video = make_video(TESTDATA / "faces" / "obama3.jpg", tmp_path / "door.mp4", seconds=2, fps=10)
    source = FrameSource(str(video), CaptureOptions(max_fps=2.5, width=320, height=320))
    frames = list(source.frames())
    assert len(frames) == 5 and source.skipped == 15
    assert all(f.image.shape[1] <= 320 and f.image.shape[0] <= 320 for f in frames)


def test_a_dropped_stream_is_reopened_and_reading_goes_on(camera):
    source = FrameSource(camera.url, FAST)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 35:
            break
    source.close()
    assert source.reconnects >= 3  # 10 frames per connection
    assert camera.connections >= 4
    assert [f.index for f in frames] == list(range(35))  # no gap, no repeat in the count
    assert all(b.time >= a.time for a, b in itertools.pairwise(frames))


def test_a_stream_that_stays_down_is_given_up_after_reconnect_for(camera):
    source = FrameSource(camera.url, replace(FAST, reconnect_for=1.0))
    read = 0
    started = time.monotonic()
    for _ in source.frames():
        read += 1
        if read == 5:
            camera.down.set()  # the camera goes away for good after this connection
    assert read == 10
    assert 1.0 <= time.monotonic() - started < 15
    assert source.reconnects == 0


def test_stop_ends_a_live_source_promptly(camera):
    stop = threading.Event()
    source = FrameSource(camera.url, FAST)
    count = 0
    for _ in source.frames(stop):
        count += 1
        if count == 3:
            stop.set()
    assert count == 3


def test_passwords_never_reach_the_log():
    assert redact("rtsp://admin:hunter2@10.0.0.5/stream") == "rtsp://admin:***@10.0.0.5/stream"
    assert redact("/videos/door.mp4") == "/videos/door.mp4"
