"""Every discovery payload facewatch publishes, checked against Home Assistant's rules for
device-based MQTT discovery and for each platform it uses (event, image, sensor,
binary_sensor, switch). Home Assistant cannot be installed here (it needs a newer Python),
so the rules are written down from its source, homeassistant/components/mqtt/:

- discovery.py: TOPIC_MATCHER `<component>/[<node_id>/]<object_id>/config` with ids in
  [a-zA-Z0-9_-]; a device's component ids become object ids joined with spaces (its cleanup
  splits them on spaces); an empty payload removes the device.
- schemas.py: DEVICE_DISCOVERY_SCHEMA (no extra keys: device, components, origin required;
  availability, availability_mode, qos, state/command topics, encoding optional), the device
  info (identifiers or connections; strings; via_device a string), origin (name required,
  support_url a URL), the availability list (topic required).
- config.py: MQTT_RO_SCHEMA (state_topic required), MQTT_RW_SCHEMA (command_topic
  required, a publish topic), and each platform's schema: their DISCOVERY_SCHEMA drops
  unknown keys silently, so an unknown key here is a misspelt option.
- abbreviations.py: each full option name facewatch uses is one Home Assistant knows.
- event.py: event_types required; the JSON payload's `event_type` picks it and the rest
  become the event's attributes (so no json_attributes_topic is needed).
- image.py: image_topic or url_topic (one), content_type not with url_topic.
- binary_sensor.py/sensor.py: expire_after and off_delay positive integers; a timestamp
  sensor has no unit.

The value templates are rendered too, with Jinja2 and the few Home Assistant functions
they use, against the payloads facewatch publishes."""

from __future__ import annotations

import json
import re
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jinja2
import pytest

from facewatch.alerts.home_assistant import (
    HouseholdView,
    LastSeen,
    TodayCount,
    Topics,
    alert_messages,
    announcement,
    camera_config,
    household_config,
    presence_message,
)
from facewatch.alerts.presence import gone_away, read_last_seen
from facewatch.frames import Box
from facewatch.records import Alert, FaceVerdict

ID = re.compile(r"[a-zA-Z0-9_-]+")
TOPIC_MATCHER = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)

DEVICE_DISCOVERY_KEYS = {
    "device",
    "components",
    "origin",
    "availability",
    "availability_mode",
    "availability_topic",
    "availability_template",
    "payload_available",
    "payload_not_available",
    "state_topic",
    "command_topic",
    "qos",
    "encoding",
}
DEVICE_KEYS = {
    "identifiers",
    "connections",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "hw_version",
    "serial_number",
    "sw_version",
    "via_device",
    "suggested_area",
    "configuration_url",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}

# MQTT_ENTITY_COMMON_SCHEMA and the base schema: what every entity may carry.
COMMON = {
    "platform",
    "unique_id",
    "name",
    "icon",
    "entity_category",
    "entity_picture",
    "enabled_by_default",
    "default_entity_id",
    "object_id",
    "json_attributes_topic",
    "json_attributes_template",
    "qos",
    "encoding",
    "availability",
    "availability_mode",
    "availability_topic",
    "availability_template",
    "payload_available",
    "payload_not_available",
}
RO = {"state_topic", "value_template"}
PLATFORMS: dict[str, dict[str, set[str]]] = {
    "event": {
        "required": {"state_topic", "event_types"},
        "allowed": COMMON | RO | {"device_class", "event_types"},
    },
    "image": {
        "required": set(),
        "allowed": COMMON | {"image_topic", "url_topic", "content_type", "image_encoding", "url_template"},
    },
    "sensor": {
        "required": {"state_topic"},
        "allowed": COMMON
        | RO
        | {
            "device_class",
            "expire_after",
            "force_update",
            "last_reset_value_template",
            "options",
            "state_class",
            "suggested_display_precision",
            "unit_of_measurement",
        },
    },
    "binary_sensor": {
        "required": {"state_topic"},
        "allowed": COMMON
        | RO
        | {"device_class", "expire_after", "force_update", "off_delay", "payload_on", "payload_off"},
    },
    "switch": {
        "required": {"command_topic"},
        "allowed": COMMON
        | {
            "command_topic",
            "state_topic",
            "value_template",
            "device_class",
            "optimistic",
            "retain",
            "payload_on",
            "payload_off",
            "state_on",
            "state_off",
        },
    },
}

# abbreviations.py: the full names of the options facewatch uses, as Home Assistant spells
# them (a key it does not know would be dropped, not refused).
KNOWN_OPTIONS = {
    "availability": "avty",
    "command_topic": "cmd_t",
    "components": "cmps",
    "content_type": "cont_type",
    "device": "dev",
    "device_class": "dev_cla",
    "event_types": "evt_typ",
    "expire_after": "exp_aft",
    "icon": "ic",
    "image_topic": "img_t",
    "json_attributes_topic": "json_attr_t",
    "name": "name",
    "off_delay": "off_dly",
    "origin": "o",
    "payload_available": "pl_avail",
    "payload_not_available": "pl_not_avail",
    "payload_off": "pl_off",
    "payload_on": "pl_on",
    "platform": "p",
    "qos": "qos",
    "state_topic": "stat_t",
    "topic": "t",
    "unique_id": "uniq_id",
    "unit_of_measurement": "unit_of_meas",
    "value_template": "val_tpl",
}
DEVICE_CLASSES = {
    "sensor": {"timestamp", "date", "duration", "enum"},  # the ones without a unit here
    "binary_sensor": {"occupancy", "presence", "motion"},
    "event": {"doorbell", "button", "motion"},
}


def subscribe_topic(topic: str) -> None:
    """util.valid_subscribe_topic: UTF-8, no NUL, wildcards only as whole levels."""
    assert topic and "\0" not in topic and len(topic.encode()) <= 65535, topic
    for i, level in enumerate(levels := topic.split("/")):
        assert level in ("+", "#") or ("+" not in level and "#" not in level), topic
        assert level != "#" or i == len(levels) - 1, topic


def publish_topic(topic: str) -> None:
    """util.valid_publish_topic: and no wildcards at all."""
    subscribe_topic(topic)
    assert "+" not in topic and "#" not in topic, topic


def check_device_discovery(topic: str, payload: bytes, discovery_prefix: str) -> dict[str, Any]:
    assert topic.startswith(f"{discovery_prefix}/"), topic
    match = TOPIC_MATCHER.fullmatch(topic.removeprefix(f"{discovery_prefix}/"))
    assert match and match["component"] == "device", topic
    config = json.loads(payload)
    assert set(config) <= DEVICE_DISCOVERY_KEYS, set(config) - DEVICE_DISCOVERY_KEYS
    assert {"device", "components", "origin"} <= set(config)
    device = config["device"]
    assert set(device) <= DEVICE_KEYS, set(device) - DEVICE_KEYS
    assert device.get("identifiers") or device.get("connections"), "a device needs an identifier"
    assert all(isinstance(i, str) for i in device["identifiers"])
    assert all(isinstance(v, str) for k, v in device.items() if k != "identifiers")
    origin = config["origin"]
    assert set(origin) <= ORIGIN_KEYS and isinstance(origin["name"], str)
    assert "support_url" not in origin or re.match(r"https?://[^/]+\.[a-z]+/", origin["support_url"])
    assert config.get("qos", 0) in (0, 1, 2)
    for availability in config.get("availability", []):
        assert set(availability) <= AVAILABILITY_KEYS and "topic" in availability
        subscribe_topic(availability["topic"])
    assert not ("availability" in config and "availability_topic" in config), "exclusive"
    assert config.get("availability_mode", "latest") in ("all", "any", "latest")
    for component_id, component in config["components"].items():
        assert ID.fullmatch(component_id), f"component id {component_id!r}"
        check_component(component)
    unique_ids = [c["unique_id"] for c in config["components"].values()]
    assert len(set(unique_ids)) == len(unique_ids)
    return config


def check_component(component: dict[str, Any]) -> None:
    platform = component["platform"]
    rules = PLATFORMS[platform]
    keys = set(component)
    assert rules["required"] <= keys, f"{platform} needs {rules['required'] - keys}"
    assert keys <= rules["allowed"], f"{platform} does not know {keys - rules['allowed']}"
    assert keys <= set(KNOWN_OPTIONS), f"not an option Home Assistant knows: {keys - set(KNOWN_OPTIONS)}"
    assert isinstance(component["unique_id"], str) and component["unique_id"]
    for key, value in component.items():
        if key == "command_topic":
            publish_topic(value)
        elif key.endswith("_topic"):
            subscribe_topic(value)
    if "icon" in component:
        assert re.fullmatch(r"[a-z]+:[a-z0-9-]+", component["icon"])
    if "device_class" in component:
        assert component["device_class"] in DEVICE_CLASSES[platform]
    for key in ("expire_after", "off_delay"):
        if key in component:
            assert isinstance(component[key], int) and component[key] > 0, key
    if platform == "event":
        assert component["event_types"] and all(isinstance(t, str) for t in component["event_types"])
        assert "json_attributes_topic" not in component, "the event's payload carries its attributes"
    if platform == "image":
        assert ("image_topic" in component) != ("url_topic" in component)
        assert not ("content_type" in component and "url_topic" in component)
    if platform == "sensor" and component.get("device_class") == "timestamp":
        assert "unit_of_measurement" not in component


# -- rendering the value templates as Home Assistant does -------------------------------
def render(template: str, payload: bytes, now: datetime) -> str:
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    env.globals["now"] = lambda: now

    def as_timestamp(value: Any) -> float:
        return (datetime.fromisoformat(value) if isinstance(value, str) else value).timestamp()

    env.globals["as_timestamp"] = as_timestamp
    return env.from_string(template).render(value_json=json.loads(payload), value=payload.decode()).strip()


TOPICS = Topics("facewatch", "homeassistant/{household}")
VIEW = HouseholdView(
    "smith", visit_window_seconds=300, presence=["Mum", "Jean-Luc Picard"], presence_away_minutes=20
)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def alert(kind: str = "stranger", name: str | None = None, at: datetime = NOW) -> Alert:
    face = FaceVerdict(box=Box(1, 2, 3, 4), verdict="known" if name else "stranger", name=name, distance=0.4)
    return Alert(
        alert_id="a1",
        household="smith",
        camera="front_door",
        bucket="b",
        frame_key="households/smith/frames/front_door/x.jpg",
        captured_at=at,
        faces=[face],
        faces_in_frame=1,
        visit_id="v1",
        kind=kind,  # type: ignore[arg-type]
    )


def published(a: Alert) -> dict[str, bytes]:
    today = TodayCount(date(2026, 12, 6), strangers=3, known=1)
    messages = alert_messages(
        TOPICS, a, face_jpeg=b"jpeg", frame_url="https://f", face_url=None, today=today, presence=True
    )
    return {m.topic: m.payload for m in messages}


def test_every_discovery_payload_passes_home_assistants_rules():
    household = TOPICS.household_discovery("smith")
    check_device_discovery(
        household, json.dumps(household_config(TOPICS, VIEW)).encode(), "homeassistant/smith"
    )
    (config, availability) = announcement(TOPICS, "smith", "front_door")
    camera = check_device_discovery(config.topic, config.payload, "homeassistant/smith")
    assert camera["availability"][0]["topic"] == availability.topic and availability.retain
    # The camera hangs off the household device.
    assert camera["device"]["via_device"] == household_config(TOPICS, VIEW)["device"]["identifiers"][0]


def test_the_topics_the_lead_fixed():
    assert TOPICS.availability("smith", "front_door") == "facewatch/smith/front_door/availability"
    assert TOPICS.armed_state("smith") == "facewatch/smith/armed"
    assert TOPICS.armed_command("smith") == "facewatch/smith/armed/set"
    switch = household_config(TOPICS, VIEW)["components"]["armed"]
    assert (switch["command_topic"], switch["state_topic"]) == (
        "facewatch/smith/armed/set",
        "facewatch/smith/armed",
    )
    assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")
    assert Topics().prefix == "facewatch"


def test_colliding_names_make_different_topics_and_identifiers():
    a, b = camera_config(TOPICS, "smith", "front_door"), camera_config(TOPICS, "smith_front", "door")
    assert a["device"]["identifiers"] != b["device"]["identifiers"]
    assert TOPICS.discovery("smith", "front_door") != TOPICS.discovery("smith_front", "door")
    assert TOPICS.old_discovery("smith", "front_door") == TOPICS.old_discovery("smith_front", "door")
    # Home Assistant's own discovery ids (node and object joined with a space) differ too.
    ids = set()
    for household, camera in (("smith", "front_door"), ("smith_front", "door")):
        m = TOPIC_MATCHER.fullmatch(
            TOPICS.discovery(household, camera).removeprefix(f"homeassistant/{household}/")
        )
        assert m is not None
        ids.add(f"{m['node_id']} {m['object_id']}")
    assert len(ids) == 2


def test_a_households_own_broker_uses_home_assistants_default_prefix():
    own = Topics.for_broker("facewatch", "homeassistant/{household}", households_own=True)
    assert own.discovery("smith", "door") == "homeassistant/device/facewatch_smith/camera_door/config"
    shared = Topics.for_broker("facewatch", "homeassistant/{household}", households_own=False)
    assert (
        shared.discovery("smith", "door") == "homeassistant/smith/device/facewatch_smith/camera_door/config"
    )


def test_the_value_templates_say_what_home_assistant_shows():
    config = household_config(TOPICS, VIEW)["components"]
    stranger = published(alert())
    last = stranger["facewatch/smith/stranger"]
    present = config["stranger_present"]["value_template"]
    assert render(present, last, NOW + timedelta(seconds=10)) == "ON"
    # A retained visit replayed when Home Assistant starts an hour later is not news.
    assert render(present, last, NOW + timedelta(hours=1)) == "OFF"
    assert config["stranger_present"]["off_delay"] == 300
    assert render(config["last_stranger_at"]["value_template"], last, NOW) == NOW.isoformat()
    today = stranger["facewatch/smith/today"]
    assert render(config["visits_today"]["value_template"], today, NOW) == "3"
    assert render(config["visits_today"]["value_template"], today, NOW + timedelta(days=1)) == "0"

    camera = camera_config(TOPICS, "smith", "front_door")["components"]
    assert render(
        camera["last_name"]["value_template"], stranger["facewatch/smith/front_door/last"], NOW
    ) == ("stranger")
    arrival = published(alert("arrival", "Jean-Luc Picard"))
    assert render(camera["last_name"]["value_template"], arrival["facewatch/smith/front_door/last"], NOW) == (
        "Jean-Luc Picard"
    )
    (presence,) = [c for c in config.values() if c.get("state_topic", "").endswith("/Jean-Luc Picard")]
    seen = arrival["facewatch/smith/presence/Jean-Luc Picard"]
    assert render(presence["value_template"], seen, NOW + timedelta(minutes=5)) == "front_door"
    assert render(presence["value_template"], seen, NOW + timedelta(minutes=21)) == "not_home"
    assert "expire_after" not in presence, "it would turn the bridge's not_home into unavailable"
    # The bridge's not_home (alerts/presence.py) renders not_home however fresh its `at`.
    last = read_last_seen(seen)
    assert isinstance(last, LastSeen)
    away = gone_away(last, NOW, timedelta(0))
    assert away is not None
    not_home = presence_message(TOPICS, "smith", "Jean-Luc Picard", away).payload
    assert render(presence["value_template"], not_home, NOW + timedelta(minutes=1)) == "not_home"
    assert json.loads(not_home)["last_camera"] == "front_door"
    assert json.loads(seen)["distance"] == 0.4
    assert "facewatch/smith/stranger" not in arrival, "an arrival is not the last stranger"


def test_the_visit_is_an_event_home_assistant_accepts():
    visit = json.loads(published(alert())["facewatch/smith/front_door/visit"])
    assert visit.pop("event_type") in ("stranger", "known")
    assert {"known_url", "console_url", "captured_at", "camera"} <= set(visit)


def _broken(change) -> dict[str, Any]:
    config = deepcopy(household_config(TOPICS, VIEW))
    change(config)
    return config


BROKEN = {
    "event without event_types": lambda c: c["components"].update(
        visit={"platform": "event", "unique_id": "x", "state_topic": "a/b"}
    ),
    "switch without command_topic": lambda c: c["components"]["armed"].pop("command_topic"),
    "wildcard command topic": lambda c: c["components"]["armed"].update(command_topic="a/+/set"),
    "misspelt option": lambda c: c["components"]["visits_today"].update(json_attribute_topic="a/b"),
    "component id with a space": lambda c: c["components"].update({"a b": c["components"].pop("armed")}),
    "image with both topics": lambda c: c["components"]["last_stranger"].update(url_topic="a/b"),
    "no origin": lambda c: c.pop("origin"),
    "device without identifiers": lambda c: c["device"].pop("identifiers"),
    "off_delay not an integer": lambda c: c["components"]["stranger_present"].update(off_delay=1.5),
    "unknown top-level key": lambda c: c.update(json_attributes_topic="a/b"),
    "duplicate unique ids": lambda c: c["components"]["armed"].update(
        unique_id="facewatch:smith:last_stranger"
    ),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_the_checks_catch_a_broken_payload(broken):
    """The control: each check fails on a payload that breaks one of Home Assistant's rules."""
    config = _broken(BROKEN[broken])
    with pytest.raises(AssertionError):
        check_device_discovery(
            TOPICS.household_discovery("smith"), json.dumps(config).encode(), "homeassistant/smith"
        )
