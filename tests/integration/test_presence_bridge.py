"""Presence says not_home while Home Assistant runs (issue 26), against a real Mosquitto and
a real S3 server: `facewatch mqtt-bridge` (a real process) learns the retained presence
messages notify left on the broker, publishes not_home, retained, for a person last seen
longer ago than the household's away time, and leaves alone a fresh one, its own not_home
(no loop) and a household whose presence is off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facewatch.alerts import mqtt
from facewatch.alerts.home_assistant import LastSeen, Topics, presence_message
from facewatch.household.settings import HouseholdSettings, save_household_settings
from tests.conftest import REPO
from tests.mqtt_broker import Subscriber

pytestmark = pytest.mark.integration
TOPICS = Topics("facewatch", "homeassistant")
MUM, DAD = TOPICS.presence("home", "Mum"), TOPICS.presence("home", "Dad")
NEXT_DOOR = TOPICS.presence("next-door", "Mum")


def test_the_bridge_says_not_home_for_a_person_gone_longer_than_the_away_time(
    storage, mosquitto, tmp_path: Path
):
    followed = {"presence": True, "presence_away_after_minutes": 1, "arrivals": ["Mum", "Dad"]}
    save_household_settings(storage, "home", HouseholdSettings(**followed))
    save_household_settings(storage, "next-door", HouseholdSettings(**{**followed, "presence": False}))
    now = datetime.now(UTC)
    earlier = LastSeen("front_door", now - timedelta(minutes=2), 0.38, "v-mum")
    left = [
        presence_message(TOPICS, "home", "Mum", earlier),
        presence_message(TOPICS, "home", "Dad", LastSeen("garden", now, 0.41, "v-dad")),
        presence_message(TOPICS, "next-door", "Mum", earlier),  # presence off: nobody says so
    ]
    mqtt.publish(mqtt.parse_broker(mosquitto.url), left, timeout=5)  # as notify does, retained

    seen = Subscriber(mosquitto, "facewatch/+/presence/+")
    log = tmp_path / "bridge.log"
    env = {
        **os.environ,
        "FACEWATCH_S3_ENDPOINT_URL": storage.client.meta.endpoint_url,
        "FACEWATCH_BUCKET": storage.bucket,
        "FACEWATCH_MQTT_URL": mosquitto.url,
    }
    bridge = [sys.executable, "-m", "facewatch.cli", "mqtt-bridge", "--household", "home,next-door"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*bridge, "--sync-seconds", "0.3"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        (_, (away, retained)) = seen.on(MUM, count=2, timeout=30)
        assert not retained, "published by the bridge while we listened"
        assert json.loads(away) == {
            "camera": None,  # what the sensor's template renders as not_home
            "at": earlier.at.isoformat(),
            "distance": 0.38,
            "visit_id": "v-mum",
            "last_camera": "front_door",
        }
        # Several syncs later: its own not_home came back and was not said again; the
        # fresh one and the household without presence were left alone.
        assert len(seen.on(MUM, count=3, timeout=1.5)) == 2
        assert len(seen.on(DAD)) == 1 and len(seen.on(NEXT_DOOR)) == 1
        assert "household home: Mum not_home" in log.read_text()
    finally:
        seen.close()
        process.terminate()
        assert process.wait(timeout=15) == 0, log.read_text()
    late = Subscriber(mosquitto, MUM)  # Home Assistant restarted: not_home is retained
    try:
        assert json.loads(late.on(MUM)[0][0])["camera"] is None
    finally:
        late.close()
