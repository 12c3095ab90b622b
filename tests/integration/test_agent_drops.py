"""A live source that drops: the frame the agent held back for a sharper view is sent when
the drop begins, not when (if ever) the camera comes back. The webcam is a stand-in on a
clock of its own (20 frames a second, then unplugged), so which frame is held does not
depend on how fast this machine is; detection, spool and S3 (a moto server) are real."""

import threading
from functools import partial

import cv2
import pytest

import facewatch.edge.agent
from facewatch.config import Settings
from facewatch.edge.agent import ChosenFrame, run_agent
from facewatch.edge.capture import CaptureOptions, FrameSource, SourceError
from facewatch.edge.pipeline import EdgeOptions
from facewatch.edge.spool import SpoolOptions
from tests.conftest import TESTDATA
from tests.fake_webcam import UnpluggedWebcam

pytestmark = pytest.mark.integration
STEP = 0.05


def test_the_held_frame_is_sent_when_a_live_source_drops(tmp_path, storage, s3_endpoint, monkeypatch):
    face = cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))
    face = cv2.resize(face, (480, round(face.shape[0] * 480 / face.shape[1])))
    clock, opened = [0.0], []

    def opener(source: str, options: CaptureOptions) -> UnpluggedWebcam:
        opened.append(source)
        if len(opened) > 1:
            raise SourceError("camera '/dev/video0' could not be opened")  # unplugged for good
        # Sent as new at 0.05 s, due again at 0.35 s (every 0.5 s, 0.2 s ahead), so the
        # 0.4 s frame is held for up to 0.2 s for a sharper view; the camera is gone by 0.6 s.
        return UnpluggedWebcam(frames=11, image=face, clock=clock, step=STEP)

    monkeypatch.setattr(
        facewatch.edge.agent, "FrameSource", partial(FrameSource, opener=opener, clock=lambda: clock[0])
    )
    stop, both_chosen = threading.Event(), threading.Event()
    uploads: list[ChosenFrame] = []
    result = {}

    def chose(frame: ChosenFrame) -> None:
        uploads.append(frame)
        if len(uploads) == 2:
            both_chosen.set()

    def run() -> None:
        result["summary"] = run_agent(
            "/dev/video0",
            household="home",
            camera="door",
            settings=Settings(bucket=storage.bucket, s3_endpoint_url=s3_endpoint),
            storage=storage,
            stop=stop,
            on_upload=chose,
            options=EdgeOptions(spool=SpoolOptions(directory=tmp_path / "spool", stop_flush_timeout=30)),
            capture=CaptureOptions(first_backoff=0.05, max_backoff=0.2),
        )

    agent = threading.Thread(target=run)
    agent.start()
    try:
        sent_while_down = both_chosen.wait(30)  # the camera never comes back
    finally:
        stop.set()
        agent.join(60)
    assert sent_while_down, f"the held frame waited for the camera to come back: {uploads}"
    assert [u.time for u in uploads] == pytest.approx([0.05, 0.4])
    assert all(u.meta.boxes for u in uploads)
    summary = result["summary"]
    assert (summary.frames_read, summary.reconnects, summary.frames_uploaded) == (11, 0, 2)
    assert sorted(storage.list_keys("households/home/frames/door/")) == sorted(u.key for u in uploads)
