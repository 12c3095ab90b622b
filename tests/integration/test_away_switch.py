"""The away switch (issue 26) against a real Mosquitto and a real S3 server: Home
Assistant's switch, set over MQTT through `facewatch mqtt-bridge` (a real process), holds
the next stranger alert back, recorded as held back by it, and lets the one after through
once armed again; the bridge refuses what is not ON/OFF and households it does not serve;
`facewatch household --disarm` publishes the state where the household has a broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facewatch.alerts import mqtt
from facewatch.alerts.home_assistant import Message, Topics
from facewatch.household.settings import load_household_settings
from facewatch.layout import household_settings_key
from facewatch.records import DeliveryStatus, HeldBackBy
from facewatch.store.storage import Storage
from tests.conftest import REPO, run_cli
from tests.mqtt_broker import Mosquitto, Subscriber
from tests.street import Collected, Walker, enroll_household, walk_by
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
TOPICS = Topics("facewatch", "homeassistant")
STATE = TOPICS.armed_state("home")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BRIDGE = [sys.executable, "-m", "facewatch.cli", "mqtt-bridge", "--household", "home"]
PASSER_BY = [Walker("alex-lacamoire.png", 0, frames=3)]  # one stranger's visit, three frames


def command(broker: Mosquitto, topic: str, payload: bytes) -> None:
    """What Home Assistant's switch does: one message on its command topic."""
    mqtt.publish(mqtt.parse_broker(broker.url), [Message(topic, payload, retain=False)], timeout=5)


@pytest.fixture
def bridge(storage: Storage, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Path]:
    """`facewatch mqtt-bridge` serving household "home"; yields its log file."""
    log = tmp_path / "bridge.log"
    env = {
        **os.environ,
        "FACEWATCH_S3_ENDPOINT_URL": storage.client.meta.endpoint_url,
        "FACEWATCH_BUCKET": storage.bucket,
        "FACEWATCH_MQTT_URL": mosquitto.url,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*BRIDGE, "--sync-seconds", "0.5", "--heartbeat-file", str(tmp_path / "alive")],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
        wait_until("the heartbeat file touched while connected", (tmp_path / "alive").exists, 10)
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0, log.read_text()


def stranger_alerts(results) -> list:
    return [f.alert for r in results for f in r.faces if f.verdict == "stranger"]


def test_the_switch_set_over_mqtt_holds_back_the_next_stranger_alert_until_armed_again(
    storage, mosquitto, bridge
):
    enroll_household(storage)
    states = Subscriber(mosquitto, STATE)
    try:
        assert states.on(STATE, timeout=30)[0][0] == b"ON", "published on start: armed by default"
        command(mosquitto, TOPICS.armed_command("home"), b"OFF")
        assert [p for p, _ in states.on(STATE, count=2, timeout=10)][1] == b"OFF"
        assert load_household_settings(storage, "home").armed is False

        notifier = Collected()
        held = stranger_alerts(walk_by(storage, notifier, PASSER_BY, T0))
        assert notifier.alerts == [], "disarmed: no stranger alert goes out"
        # The visit's first frame, the one that would alert, is held back by the switch;
        # its later frames say that their visit was, not that it "already alerted".
        assert held[0].status is DeliveryStatus.HELD_BACK and held[0].held_back_by is HeldBackBy.DISARMED
        assert all(a.status is DeliveryStatus.HELD_BACK for a in held)
        assert len(held) > 1 and {a.held_back_by for a in held[1:]} == {HeldBackBy.DISARMED_VISIT}
        assert not [a for a in held if "already alerted" in a.detail]
        shown = run_cli(storage, "events", "--household", "home", "--since", "2026-11-24T00:00:00")
        assert "disarmed (away switch off)" in shown.stdout

        command(mosquitto, TOPICS.armed_command("home"), b"ON")
        assert [p for p, _ in states.on(STATE, count=3, timeout=10)][2] == b"ON"
        walk_by(storage, notifier, PASSER_BY, T0 + timedelta(hours=2))
        assert len(notifier.alerts) == 1, "armed again: the same stranger's next visit alerts"
    finally:
        states.close()
    late = Subscriber(mosquitto, STATE)  # Home Assistant restarted: the state is retained
    try:
        assert late.on(STATE)[0] == (b"ON", True)
    finally:
        late.close()


def test_the_bridge_refuses_other_payloads_and_households_it_does_not_serve(storage, mosquitto, bridge):
    states = Subscriber(mosquitto, "facewatch/+/armed")
    try:
        assert states.on(STATE, timeout=30)[0][0] == b"ON"
        command(mosquitto, TOPICS.armed_command("home"), b"off please")
        command(mosquitto, TOPICS.armed_command("next-door"), b"OFF")
        command(mosquitto, TOPICS.armed_command("home"), b"OFF")  # then one it takes
        wait_until("the valid command's state", lambda: len(states.on(STATE, count=2, timeout=0)) >= 2, 10)
        assert [p for p, _ in states.on(STATE)] == [b"ON", b"OFF"]
        assert states.on(TOPICS.armed_state("next-door"), timeout=0) == []
    finally:
        states.close()
    assert not storage.exists(household_settings_key("next-door")), "not served: nothing written"
    wait_until("the refusal's log line", lambda: "neither ON nor OFF" in bridge.read_text(), 10)
    assert "'off please' is neither ON nor OFF" in bridge.read_text()


def test_the_cli_disarms_and_publishes_the_state_and_refuses_a_bad_household(storage, mosquitto):
    states = Subscriber(mosquitto, STATE)
    try:
        env = {"FACEWATCH_MQTT_URL": mosquitto.url}
        done = run_cli(storage, "household", "--household", "home", "--disarm", env=env)
        assert done.returncode == 0, done.stderr
        assert '"armed": false' in done.stdout
        assert "household home disarmed" in done.stderr
        assert states.on(STATE) == [(b"OFF", False)]
        assert load_household_settings(storage, "home").armed is False

        refused = run_cli(storage, "household", "--household", "../home", "--arm", env=env)
        assert refused.returncode == 2 and "error:" in refused.stderr
        assert load_household_settings(storage, "home").armed is False
        assert len(states.on(STATE, timeout=0.5)) == 1, "a refused change publishes nothing"
    finally:
        states.close()


def test_a_broker_that_is_down_leaves_the_setting_written_with_a_warning(storage):
    done = run_cli(
        storage,
        "household",
        "--household",
        "home",
        "--disarm",
        env={"FACEWATCH_MQTT_URL": "mqtt://127.0.0.1:9"},
    )
    assert done.returncode == 0, done.stderr
    assert "warning: away switch state not published" in done.stderr
    assert load_household_settings(storage, "home").armed is False


def test_a_change_made_without_a_broker_reaches_home_assistant_through_the_bridge(storage, mosquitto, bridge):
    states = Subscriber(mosquitto, STATE)
    try:
        assert states.on(STATE, timeout=30)[0][0] == b"ON"
        done = run_cli(storage, "household", "--household", "home", "--disarm")  # no FACEWATCH_MQTT_URL
        assert done.returncode == 0, done.stderr
        assert [p for p, _ in states.on(STATE, count=2, timeout=10)][1] == b"OFF"
    finally:
        states.close()
