"""What the `mqtt` channel publishes, as plain data: topics, the visit message, and Home
Assistant's device discovery configs. No I/O; `mqtt.py` sends it, `announce.py` decides
when a config is sent and when it is taken back.

Two kinds of device (Home Assistant's device form of MQTT discovery), both on the topic
`<discovery>/device/facewatch_<household>/<object>/config`:

- a household device (object `household`): "Last stranger" image and time, "Stranger
  present" (clears itself after the visit window), "Stranger visits today", the away switch
  ("Alerts armed", whose state and command topics the bridge serves), and, when the
  household opted in, a presence sensor per person it follows (`arrivals`);
- a camera device per camera (object `camera_<camera>`, hanging off the household device
  with `via_device`): the visit `event` (types `stranger`, `known`), the last face `image`,
  "Last seen" (retained on `…/last`, so it survives Home Assistant's restarts), and the
  camera's availability.

Identifiers are `facewatch:<household>[:<camera>]`: ids cannot hold `:` (layout.check_id),
so no two households' or cameras' identifiers meet; the discovery topic keeps household and
camera in separate levels, which are in the characters Home Assistant allows there."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from facewatch.records import Alert

ORIGIN = {"name": "facewatch", "sw_version": "0.1.0"}
"""Who publishes the configs (Home Assistant shows it; `name` is required). No
`support_url`: facewatch has no public home page to point at, and Home Assistant wants a
real URL there or none."""

VisitKind = Literal["stranger", "known"]
EVENT_TYPES: tuple[VisitKind, ...] = ("stranger", "known")

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"

HOUSEHOLD_PLACEHOLDER = "{household}"
"""In FACEWATCH_MQTT_DISCOVERY_PREFIX: replaced by the household's id on the deployment's
broker (shared by the households it serves), dropped on a household's own broker."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    """Discovery, faces, the last visit and states are retained, so a Home Assistant that
    starts later still finds them; visits are not (Home Assistant ignores replayed retained
    events). An empty retained payload takes a retained message away."""


def cleared(topic: str) -> Message:
    """Takes the topic's retained message away (and, on a discovery topic, the device)."""
    return Message(topic, b"", retain=True)


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = "facewatch"
    discovery_prefix: str = "homeassistant"

    @classmethod
    def for_broker(cls, prefix: str, discovery_prefix: str, *, households_own: bool) -> Topics:
        """The topics on one broker. A household's own broker is its alone: its Home
        Assistant's default prefix (`{household}` dropped from the discovery prefix). The
        deployment's broker may serve many households: each gets its own discovery prefix,
        so one household's Home Assistant does not discover another's cameras."""
        return cls(prefix, _without_household(discovery_prefix) if households_own else discovery_prefix)

    def household(self, household: str) -> str:
        return f"{self.prefix}/{household}"

    def camera(self, household: str, camera: str) -> str:
        return f"{self.prefix}/{household}/{camera}"

    def visit(self, household: str, camera: str) -> str:
        return f"{self.camera(household, camera)}/visit"

    def last(self, household: str, camera: str) -> str:
        """The camera's last visit, retained (the "Last seen" sensor's state)."""
        return f"{self.camera(household, camera)}/last"

    def face(self, household: str, camera: str) -> str:
        return f"{self.camera(household, camera)}/face"

    def availability(self, household: str, camera: str) -> str:
        return f"{self.prefix}/{household}/{camera}/availability"

    def armed_state(self, household: str) -> str:
        return f"{self.prefix}/{household}/armed"

    def armed_command(self, household: str) -> str:
        return f"{self.prefix}/{household}/armed/set"

    def stranger(self, household: str) -> str:
        """The household's last stranger visit (any camera), retained."""
        return f"{self.household(household)}/stranger"

    def stranger_face(self, household: str) -> str:
        return f"{self.household(household)}/stranger/face"

    def today(self, household: str) -> str:
        return f"{self.household(household)}/today"

    def presence(self, household: str, person: str) -> str:
        """Person names hold no `/`, `+` or `#` (layout.check_person)."""
        return f"{self.household(household)}/presence/{person}"

    def _discovery_root(self, household: str) -> str:
        return self.discovery_prefix.replace(HOUSEHOLD_PLACEHOLDER, household)

    def discovery(self, household: str, camera: str) -> str:
        return f"{self._discovery_root(household)}/device/{node_id(household)}/camera_{camera}/config"

    def household_discovery(self, household: str) -> str:
        return f"{self._discovery_root(household)}/device/{node_id(household)}/household/config"

    def old_discovery(self, household: str, camera: str) -> str:
        """Where facewatch before issue 26 put a camera's config, whose id collided
        (`smith`/`front_door` and `smith_front`/`door`); cleared once per camera."""
        old_id = re.sub(r"[^a-zA-Z0-9_-]", "_", f"facewatch_{household}_{camera}")
        return f"{_without_household(self.discovery_prefix)}/device/{old_id}/config"


def _without_household(discovery_prefix: str) -> str:
    bare = discovery_prefix.replace(HOUSEHOLD_PLACEHOLDER, "").replace("//", "/").strip("/")
    return bare or "homeassistant"


def node_id(household: str) -> str:
    """The discovery topic's node level; household ids are already in its characters."""
    return f"facewatch_{household}"


def household_device_id(household: str) -> str:
    return f"facewatch:{household}"


def device_id(household: str, camera: str) -> str:
    """`facewatch:<household>:<camera>`: `:` is in no household or camera id, so two
    pairs never make the same identifier (unique ids are built from it)."""
    return f"facewatch:{household}:{camera}"


def person_component(person: str) -> str:
    """A component id for a person's presence sensor: names may hold spaces and letters
    Home Assistant does not take in ids, so a hash of the name."""
    return f"presence_{hashlib.sha256(person.encode()).hexdigest()[:12]}"


@dataclass(frozen=True, slots=True)
class HouseholdView:
    """What the household device shows, from the household's settings."""

    household: str
    visit_window_seconds: int
    presence: list[str] = field(default_factory=list)
    """The people with a presence sensor (empty: presence is off)."""
    presence_away_minutes: int = 30


def camera_config(topics: Topics, household: str, camera: str) -> dict[str, Any]:
    """A camera's device config (retained at `topics.discovery(...)`)."""
    ident = device_id(household, camera)
    last = topics.last(household, camera)
    return {
        "device": {
            "identifiers": [ident],
            "name": f"facewatch {household} {camera}",
            "manufacturer": "facewatch",
            "model": "camera",
            "via_device": household_device_id(household),
        },
        "origin": ORIGIN,
        "qos": 1,
        # facewatch says `online` when it announces the camera; an edge agent with a broker
        # says online/offline itself from then on (its will: offline), one without keeps
        # the announced `online`, so a camera is never unavailable for want of an agent.
        "availability": [
            {
                "topic": topics.availability(household, camera),
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
            }
        ],
        "components": {
            "visit": {
                "platform": "event",
                "unique_id": f"{ident}:visit",
                "name": "Visit",
                "state_topic": topics.visit(household, camera),
                "event_types": list(EVENT_TYPES),
            },
            "face": {
                "platform": "image",
                "unique_id": f"{ident}:face",
                "name": "Last face",
                "image_topic": topics.face(household, camera),
                "content_type": "image/jpeg",
            },
            "last_name": {
                "platform": "sensor",
                "unique_id": f"{ident}:last_name",
                "name": "Last seen",
                "state_topic": last,
                "value_template": "{{ value_json.name if value_json.name else 'stranger' }}",
                "json_attributes_topic": last,
            },
        },
    }


def _recent(seconds: int, then: str, otherwise: str) -> str:
    """A value template: `then` while the message's `captured_at` (or `at`) is at most
    `seconds` old when Home Assistant reads it, `otherwise` after; a retained message
    replayed at Home Assistant's start is judged by its age, not taken as news."""
    return (
        "{% set at = value_json.captured_at | default(value_json.at) %}"
        f"{{{{ {then} if (as_timestamp(now()) - as_timestamp(at)) < {seconds} else {otherwise} }}}}"
    )


def household_config(topics: Topics, view: HouseholdView) -> dict[str, Any]:
    """The household device's config (retained at `topics.household_discovery(...)`)."""
    household = view.household
    ident = household_device_id(household)
    stranger = topics.stranger(household)
    components: dict[str, dict[str, Any]] = {
        "last_stranger": {
            "platform": "image",
            "unique_id": f"{ident}:last_stranger",
            "name": "Last stranger",
            "image_topic": topics.stranger_face(household),
            "content_type": "image/jpeg",
        },
        "last_stranger_at": {
            "platform": "sensor",
            "unique_id": f"{ident}:last_stranger_at",
            "name": "Last stranger seen",
            "device_class": "timestamp",
            "state_topic": stranger,
            "value_template": "{{ value_json.captured_at }}",
            "json_attributes_topic": stranger,
        },
        "stranger_present": {
            "platform": "binary_sensor",
            "unique_id": f"{ident}:stranger_present",
            "name": "Stranger present",
            "device_class": "occupancy",
            "state_topic": stranger,
            "value_template": _recent(view.visit_window_seconds, f"'{ON}'", f"'{OFF}'"),
            "payload_on": ON,
            "payload_off": OFF,
            "off_delay": view.visit_window_seconds,
        },
        "visits_today": {
            "platform": "sensor",
            "unique_id": f"{ident}:visits_today",
            "name": "Stranger visits today",
            "state_topic": topics.today(household),
            # A count of an earlier day is today's nothing.
            "value_template": (
                "{{ value_json.strangers if value_json.date == now().strftime('%Y-%m-%d') else 0 }}"
            ),
            "json_attributes_topic": topics.today(household),
            "unit_of_measurement": "visits",
        },
        "armed": {
            "platform": "switch",
            "unique_id": f"{ident}:armed",
            "name": "Alerts armed",
            "icon": "mdi:shield-home",
            "command_topic": topics.armed_command(household),
            "state_topic": topics.armed_state(household),
            "payload_on": ON,
            "payload_off": OFF,
        },
    }
    away_seconds = view.presence_away_minutes * 60
    for person in view.presence:
        topic = topics.presence(household, person)
        components[person_component(person)] = {
            "platform": "sensor",
            "unique_id": f"{ident}:presence:{person}",
            "name": f"{person} presence",
            "icon": "mdi:account-eye",
            "state_topic": topic,
            # `camera` is null in the bridge's not_home message; the age check is for
            # a message replayed at Home Assistant's start where no bridge runs.
            "value_template": _recent(away_seconds, "(value_json.camera or 'not_home')", "'not_home'"),
            "json_attributes_topic": topic,
            # No expire_after: it would turn the bridge's not_home into unavailable one
            # away time later (docs/home-assistant.md, Presence).
        }
    return {
        "device": {
            "identifiers": [ident],
            "name": f"facewatch {household}",
            "manufacturer": "facewatch",
            "model": "household",
        },
        "origin": ORIGIN,
        "qos": 1,
        "components": components,
    }


def config_message(topic: str, config: dict[str, Any]) -> Message:
    return Message(topic, json.dumps(config, sort_keys=True).encode(), retain=True)


def config_digest(message: Message) -> str:
    """What an "announced" marker keeps: a changed config is announced again."""
    return hashlib.sha256(message.topic.encode() + b"\0" + message.payload).hexdigest()


def announcement(topics: Topics, household: str, camera: str) -> list[Message]:
    """A camera's config and its `online`, published (and given time to be subscribed to)
    before its first visit."""
    return [
        config_message(topics.discovery(household, camera), camera_config(topics, household, camera)),
        Message(topics.availability(household, camera), ONLINE.encode(), retain=True),
    ]


def withdrawal(topics: Topics, household: str, camera: str) -> list[Message]:
    """Everything retained about a camera taken away; Home Assistant removes its device."""
    return [
        cleared(topics.discovery(household, camera)),
        cleared(topics.face(household, camera)),
        cleared(topics.last(household, camera)),
        cleared(topics.availability(household, camera)),
    ]


def household_withdrawal(topics: Topics, view: HouseholdView) -> list[Message]:
    household = view.household
    return [
        cleared(topics.household_discovery(household)),
        cleared(topics.stranger(household)),
        cleared(topics.stranger_face(household)),
        cleared(topics.today(household)),
        *(cleared(topics.presence(household, person)) for person in view.presence),
    ]


def visit_payload(
    alert: Alert,
    *,
    kind: VisitKind,
    frame_url: str,
    face_url: str | None,
    console_url: str | None,
    known_url: str | None = None,
    question_url: str | None = None,
) -> dict[str, Any]:
    """The visit message: `event_type` for Home Assistant's event entity, and the rest for
    any subscriber (and as the event's attributes). `alert_id` lets a subscriber drop a
    message delivered twice; `known_url` is the email's "I know this person" link;
    `question` {"person", "url"}: where the face is a question "Is this X?", else None."""
    face = alert.faces[0] if alert.faces else None
    return {
        "event_type": kind,
        "verdict": kind,
        "name": face.name if face is not None and kind == "known" else None,
        "stranger_id": alert.stranger_id,
        "visit_id": alert.visit_id,
        "alert_id": alert.alert_id,
        "household": alert.household,
        "camera": alert.camera,
        "captured_at": alert.captured_at.isoformat(),
        "distance": face.distance if face is not None else None,
        "visits": alert.stranger_visits,
        "frame_url": frame_url,
        "face_url": face_url,
        "console_url": console_url,
        "known_url": known_url,
        "question": (
            {"person": alert.question.person, "url": question_url}
            if alert.question is not None and question_url
            else None
        ),
    }


@dataclass(frozen=True, slots=True)
class TodayCount:
    """The household's alerted visits of one local day (`visit_counts.py` keeps it)."""

    day: date
    strangers: int
    known: int

    def payload(self) -> bytes:
        day = self.day.isoformat()
        return json.dumps({"date": day, "strangers": self.strangers, "known": self.known}).encode()


@dataclass(frozen=True, slots=True)
class LastSeen:
    """Where a followed person was last seen, retained on Topics.presence. `camera` None:
    away (the bridge's not_home, `alerts/presence.py`), with `last_camera` where they were."""

    camera: str | None
    at: datetime
    distance: float | None
    visit_id: str | None
    last_camera: str | None = None

    def payload(self) -> bytes:
        seen: dict[str, Any] = {
            "camera": self.camera,
            "at": self.at.isoformat(),
            "distance": self.distance,
            "visit_id": self.visit_id,
        }
        if self.camera is None:  # an arrival's message keeps the shape it always had
            seen["last_camera"] = self.last_camera
        return json.dumps(seen).encode()


def presence_message(topics: Topics, household: str, person: str, seen: LastSeen) -> Message:
    return Message(topics.presence(household, person), seen.payload(), retain=True)


def visit_kind(alert: Alert) -> VisitKind:
    return "known" if alert.kind == "arrival" else "stranger"


def alert_messages(
    topics: Topics,
    alert: Alert,
    *,
    face_jpeg: bytes | None,
    frame_url: str,
    face_url: str | None,
    console_url: str | None = None,
    known_url: str | None = None,
    question_url: str | None = None,
    today: TodayCount | None = None,
    presence: bool = False,
) -> list[Message]:
    """What one alert publishes, in order: the faces, the retained last visit (camera and,
    for a stranger, household), today's count, the person's presence (when the household
    follows it), then the visit itself. The camera's announcement goes before, on its own
    (`announcement`), once per config."""
    household, camera = alert.household, alert.camera
    kind = visit_kind(alert)
    visit = json.dumps(
        visit_payload(
            alert,
            kind=kind,
            frame_url=frame_url,
            face_url=face_url,
            console_url=console_url,
            known_url=known_url,
            question_url=question_url,
        )
    ).encode()
    messages = []
    if face_jpeg is not None:
        messages.append(Message(topics.face(household, camera), face_jpeg, retain=True))
        if kind == "stranger":
            messages.append(Message(topics.stranger_face(household), face_jpeg, retain=True))
    messages.append(Message(topics.last(household, camera), visit, retain=True))
    if kind == "stranger":
        messages.append(Message(topics.stranger(household), visit, retain=True))
    if today is not None:
        messages.append(Message(topics.today(household), today.payload(), retain=True))
    face = alert.faces[0] if alert.faces else None
    if presence and kind == "known" and face is not None and face.name:
        seen = LastSeen(camera, alert.captured_at, face.distance, alert.visit_id)
        messages.append(presence_message(topics, household, face.name, seen))
    messages.append(Message(topics.visit(household, camera), visit, retain=False))
    return messages
