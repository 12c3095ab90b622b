"""The camera's availability (issue 26) against a real Mosquitto: `facewatch agent` with a
broker is `online` (retained) while it runs, says `offline` when stopped cleanly, and the
broker publishes its last will `offline` when the agent is killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from facewatch.alerts.home_assistant import Topics
from tests.mjpeg_camera import MjpegCamera
from tests.mqtt_broker import Subscriber

pytestmark = pytest.mark.integration
FACEWATCH = str(Path(sys.executable).with_name("facewatch"))
AVAILABILITY = Topics("facewatch", "homeassistant").availability("home", "door")


@pytest.fixture
def camera():
    camera = MjpegCamera(frames_per_connection=100_000, interval=0.1)  # a live stream, no face
    yield camera
    camera.close()


def start_agent(camera, storage, tmp_path, mqtt_url: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FACEWATCH_S3_ENDPOINT_URL": storage.client.meta.endpoint_url,
        "FACEWATCH_BUCKET": storage.bucket,
        "FACEWATCH_SPOOL_DIR": str(tmp_path / "spool"),
    }
    argv = [FACEWATCH, "agent", "--source", camera.url, "--household", "home", "--camera", "door"]
    return subprocess.Popen(
        [*argv, "--quiet", "--mqtt-url", mqtt_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_agent_is_online_while_it_runs_and_its_will_says_offline_when_killed(
    storage, mosquitto, camera, tmp_path
):
    seen = Subscriber(mosquitto, AVAILABILITY)
    try:
        agent = start_agent(camera, storage, tmp_path, mosquitto.url)
        assert [p for p, _ in seen.on(AVAILABILITY, timeout=60)] == [b"online"], agent.stderr
        agent.send_signal(signal.SIGTERM)  # a clean stop says so itself
        _, err = agent.communicate(timeout=30)
        assert agent.returncode == 0, err
        assert [p for p, _ in seen.on(AVAILABILITY, count=2)] == [b"online", b"offline"]

        agent = start_agent(camera, storage, tmp_path, mosquitto.url)
        assert [p for p, _ in seen.on(AVAILABILITY, count=3, timeout=60)][2] == b"online"
        agent.kill()  # -9: no goodbye; the broker publishes the will
        agent.communicate(timeout=30)
        assert [p for p, _ in seen.on(AVAILABILITY, count=4)][3] == b"offline"
    finally:
        seen.close()
    late = Subscriber(mosquitto, AVAILABILITY)  # Home Assistant started later: retained
    try:
        assert late.on(AVAILABILITY) == [(b"offline", True)]
    finally:
        late.close()


def test_a_malformed_broker_url_is_a_clear_error(storage, tmp_path, camera):
    agent = start_agent(camera, storage, tmp_path, "http://broker:1883")
    _, err = agent.communicate(timeout=60)
    assert agent.returncode == 2
    assert "MQTT URL must start with mqtt:// or mqtts://" in err and "Traceback" not in err
