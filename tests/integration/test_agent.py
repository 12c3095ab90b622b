"""`facewatch agent` as a real process against a real S3 server: what it uploads, how it
fails on a bad source, and how SIGTERM leaves unsent frames for the next start."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from facewatch.config import Settings
from facewatch.edge.agent import run_agent
from facewatch.edge.pipeline import EdgeOptions
from facewatch.edge.spool import SpoolOptions
from facewatch.frames import FrameMeta
from tests.conftest import TESTDATA, make_video
from tests.mjpeg_camera import MjpegCamera
from tests.waiting import poll

pytestmark = pytest.mark.integration
FACEWATCH = str(Path(sys.executable).with_name("facewatch"))


def agent_env(endpoint: str, bucket: str, spool: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FACEWATCH_S3_ENDPOINT_URL": endpoint,
        "FACEWATCH_BUCKET": bucket,
        "FACEWATCH_SPOOL_DIR": str(spool),
    }


def test_the_agent_uploads_few_frames_each_with_its_faces(tmp_path, storage, s3_endpoint):
    video = make_video(TESTDATA / "faces" / "two_people.jpg", tmp_path / "door.mp4", seconds=4, fps=10)
    done = subprocess.run(
        [FACEWATCH, "agent", "--source", str(video), "--household", "home", "--camera", "door", "--quiet"],
        # frames tagged for the bucket's lifecycle rule (FrameExpiryDays)
        env={
            **agent_env(s3_endpoint, storage.bucket, tmp_path / "spool"),
            "FACEWATCH_FRAME_EXPIRY_DAYS": "365",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    keys = sorted(storage.list_keys("households/home/frames/door/"))
    tagged = storage.client.get_object_tagging(Bucket=storage.bucket, Key=keys[0])["TagSet"]
    assert tagged == [{"Key": "facewatch-expiry", "Value": "frame"}]
    assert summary["frames_read"] == 40
    assert summary["frames_uploaded"] == len(keys) == summary["frames_chosen"]
    # Two people standing for four seconds: a frame of each at least every second, far
    # fewer than one per frame.
    assert 4 <= len(keys) <= 12
    metas = [FrameMeta.from_s3_metadata(storage.get(k).metadata) for k in keys]
    assert all(m.household == "home" and m.camera == "door" for m in metas)
    assert all(len(m.boxes) == 2 and len(m.track_ids) == 2 for m in metas)
    # the same two faces, followed throughout (listed largest box first: two faces of one
    # size swap places as a detector's boxes wobble by a pixel)
    assert len({frozenset(m.track_ids) for m in metas}) == 1
    assert summary["spooled"] == 0 and summary["upload_failures"] == 0


def test_a_source_that_does_not_open_is_a_clear_error_and_exit_2(tmp_path, storage, s3_endpoint):
    done = subprocess.run(
        [
            FACEWATCH,
            "agent",
            "--source",
            str(tmp_path / "nope.mp4"),
            "--household",
            "home",
            "--camera",
            "door",
        ],
        env=agent_env(s3_endpoint, storage.bucket, tmp_path / "spool"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def face_camera():
    ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(TESTDATA / "faces" / "obama3.jpg")))
    assert ok
    camera = MjpegCamera(frames_per_connection=100_000, jpeg=jpeg.tobytes(), interval=0.05)
    yield camera
    camera.close()


def test_sigterm_stops_capture_and_keeps_unsent_frames_for_the_next_start(
    tmp_path, storage, s3_endpoint, face_camera
):
    spool = tmp_path / "spool"
    dead = "http://127.0.0.1:9"  # storage unreachable for the whole first run
    agent = subprocess.Popen(
        [
            FACEWATCH,
            "agent",
            "--source",
            face_camera.url,
            "--household",
            "home",
            "--camera",
            "door",
            "--quiet",
        ],
        env=agent_env(dead, storage.bucket, spool),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    poll(lambda: len(list(spool.rglob("*.json"))) >= 3, 60)
    agent.send_signal(signal.SIGTERM)
    out, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    first = json.loads(out.strip().splitlines()[-1])
    assert first["frames_uploaded"] == 0 and first["spooled"] >= 3
    assert first["spooled"] == len(list(spool.rglob("*.json")))

    # The next start, with storage back, sends what the first run left, then its own frames.
    video = make_video(TESTDATA / "faces" / "obama3.jpg", tmp_path / "door.mp4", seconds=1, fps=10)
    summary = run_agent(
        str(video),
        household="home",
        camera="door",
        settings=Settings(bucket=storage.bucket, s3_endpoint_url=s3_endpoint),
        storage=storage,
        options=EdgeOptions(spool=SpoolOptions(directory=spool / "home-door")),
    )
    keys = list(storage.list_keys("households/home/frames/door/"))
    assert summary.spooled == 0
    assert len(keys) == first["spooled"] + summary.frames_chosen
