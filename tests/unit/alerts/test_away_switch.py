"""The away switch's MQTT side as plain data: which commands the bridge acts on, which it
refuses (and why), the retained state, and the topics the three parties share."""

from __future__ import annotations

import pytest

from facewatch.alerts.availability import availability_messages
from facewatch.alerts.away_switch import ArmCommand, Refused, armed_state_message, read_command
from facewatch.alerts.home_assistant import Message, Topics

TOPICS = Topics("facewatch", "homeassistant")
SERVED = ["home", "smith"]


def test_the_shared_topic_names():
    assert TOPICS.availability("home", "door") == "facewatch/home/door/availability"
    assert TOPICS.armed_state("home") == "facewatch/home/armed"
    assert TOPICS.armed_command("home") == "facewatch/home/armed/set"
    assert Topics("fw-test", "ha").armed_command("h") == "fw-test/h/armed/set"


@pytest.mark.parametrize(("payload", "armed"), [(b"ON", True), (b"OFF", False), (b"OFF\n", False)])
def test_on_and_off_arm_and_disarm_the_household_of_the_topic(payload, armed):
    assert read_command(TOPICS, SERVED, "facewatch/smith/armed/set", payload) == ArmCommand("smith", armed)


@pytest.mark.parametrize("payload", [b"on", b"off", b"", b"1", b"true", b"\xff\xfe", b"ON OFF", b"x" * 500])
def test_any_other_payload_is_refused_with_what_it_was(payload):
    refused = read_command(TOPICS, SERVED, "facewatch/home/armed/set", payload)
    assert isinstance(refused, Refused)
    assert "neither ON nor OFF" in refused.why and len(refused.why) < 120


def test_a_retained_command_is_refused_the_broker_would_replay_it_at_every_connect():
    refused = read_command(TOPICS, SERVED, "facewatch/home/armed/set", b"OFF", retained=True)
    assert isinstance(refused, Refused) and "retained" in refused.why


@pytest.mark.parametrize(
    "topic",
    [
        "facewatch/next-door/armed/set",  # a household this bridge does not serve
        "facewatch/home/armed",  # the state, not the command
        "other/home/armed/set",  # another prefix
        "facewatch/home/armed/set/x",
    ],
)
def test_a_command_on_any_other_topic_is_refused(topic):
    refused = read_command(TOPICS, SERVED, topic, b"OFF")
    assert isinstance(refused, Refused) and "not the command topic" in refused.why


def test_the_state_and_the_availability_are_retained():
    assert armed_state_message(TOPICS, "home", True) == Message("facewatch/home/armed", b"ON", retain=True)
    assert armed_state_message(TOPICS, "home", False).payload == b"OFF"
    online, offline = availability_messages(TOPICS, "home", "door")
    assert (online.payload, offline.payload) == (b"online", b"offline")
    assert online.retain and offline.retain and online.topic == offline.topic
