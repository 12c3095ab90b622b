"""`facewatch up` with a broker (FACEWATCH_MQTT_URL) against a real Mosquitto: its agents
keep their cameras' availability, and its supervised MQTT bridge serves the away switch
(Home Assistant's command arms and disarms the household); a stop says `offline`."""

from __future__ import annotations

import json

import pytest

from facewatch.alerts import mqtt
from facewatch.alerts.home_assistant import Message, Topics
from facewatch.local.processes import free_port
from facewatch.local.seaweed import find_weed
from tests.integration.up_harness import PORT_NAMES, Up, facewatch, status, wait_for, write_config
from tests.mjpeg_camera import MjpegCamera
from tests.mqtt_broker import Subscriber

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]
TOPICS = Topics("facewatch", "homeassistant")


def test_up_runs_the_bridge_and_the_agents_say_online_then_offline(tmp_path, running, mosquitto):
    camera = MjpegCamera(frames_per_connection=100_000, interval=0.1)
    seen = Subscriber(mosquitto, "facewatch/home/#")
    try:
        ports = {name: free_port() for name in PORT_NAMES}
        extra = f'[[cameras]]\nid = "front"\nhousehold = "home"\nsource = "{camera.url}"\n'
        config = write_config(tmp_path / "home.toml", ports, extra)
        data = tmp_path / "data"
        broker = {"FACEWATCH_MQTT_URL": mosquitto.url}
        up = Up(data, config, tmp_path / "outbox", tmp_path / "up.log", env=broker)
        running.append(up)
        availability, state = TOPICS.availability("home", "front"), TOPICS.armed_state("home")
        assert seen.on(availability, timeout=60)[0][0] == b"online", up.stderr()
        assert seen.on(state, timeout=60)[0][0] == b"ON", up.stderr()
        assert status(data)["processes"]["mqtt-bridge"]["state"] == "running"

        off = Message(TOPICS.armed_command("home"), b"OFF", retain=False)
        mqtt.publish(mqtt.parse_broker(mosquitto.url), [off], timeout=5)
        assert [p for p, _ in seen.on(state, count=2, timeout=10)][1] == b"OFF"
        shown = wait_for(
            "the household disarmed",
            lambda: (d := facewatch("household", "--household", "home", env=up.env())).returncode == 0 and d,
            up,
        )
        assert json.loads(shown.stdout)["armed"] is False

        assert up.stop() == 0, up.stderr()
        assert [p for p, _ in seen.on(availability, count=2, timeout=10)][-1] == b"offline"
    finally:
        seen.close()
        camera.close()
