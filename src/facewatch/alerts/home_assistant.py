"""What the `mqtt` channel publishes, as plain data: topics, the visit message, and Home
Assistant's device discovery config for a camera. No I/O; `mqtt.py` sends it.

Per camera, three entities on one device (Home Assistant's device form of MQTT discovery):
an `event` entity fed by the visit topic (event types `stranger` and `known`, the visit
JSON as its attributes), an `image` entity fed by the retained face topic, and a `sensor`
holding the last name seen. The unique ids are made of the household and camera only, so
they are the same after any restart and a camera is never announced twice."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from facewatch.records import Alert

ORIGIN = {"name": "facewatch", "sw_version": "0.1.0", "support_url": "https://github.com/facewatch"}
"""Who publishes the config (Home Assistant shows it; `name` is required)."""

VisitKind = Literal["stranger", "known"]
EVENT_TYPES: tuple[VisitKind, ...] = ("stranger", "known")


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    """Discovery and the last face are retained, so a Home Assistant that starts later
    still finds them; visits are not (Home Assistant ignores replayed retained events)."""


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    discovery_prefix: str

    def camera(self, household: str, camera: str) -> str:
        return f"{self.prefix}/{household}/{camera}"

    def visit(self, household: str, camera: str) -> str:
        return f"{self.camera(household, camera)}/visit"

    def face(self, household: str, camera: str) -> str:
        return f"{self.camera(household, camera)}/face"

    def discovery(self, household: str, camera: str) -> str:
        return f"{self.discovery_prefix}/device/{device_id(household, camera)}/config"

    def availability(self, household: str, camera: str) -> str:
        """`online` / `offline`, retained: the camera's agent (its last will is `offline`)."""
        return f"{self.prefix}/{household}/{camera}/availability"

    def armed_state(self, household: str) -> str:
        """`ON` / `OFF`, retained: the household's away switch as it stands."""
        return f"{self.prefix}/{household}/armed"

    def armed_command(self, household: str) -> str:
        """`ON` / `OFF`: Home Assistant's switch asks for a change here (mqtt_bridge.py)."""
        return f"{self.prefix}/{household}/armed/set"


def device_id(household: str, camera: str) -> str:
    """`facewatch_<household>_<camera>`, in the characters a discovery topic allows."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", f"facewatch_{household}_{camera}")


def discovery_config(topics: Topics, household: str, camera: str) -> dict[str, Any]:
    """The device config of one camera (retained at `topics.discovery(...)`)."""
    ident = device_id(household, camera)
    visit_topic = topics.visit(household, camera)
    return {
        "device": {
            "identifiers": [ident],
            "name": f"facewatch {household} {camera}",
            "manufacturer": "facewatch",
            "model": "camera",
        },
        "origin": ORIGIN,
        "qos": 1,
        "components": {
            "visit": {
                "platform": "event",
                "unique_id": f"{ident}_visit",
                "name": "Visit",
                "state_topic": visit_topic,
                "event_types": list(EVENT_TYPES),
                "json_attributes_topic": visit_topic,
            },
            "face": {
                "platform": "image",
                "unique_id": f"{ident}_face",
                "name": "Last face",
                "image_topic": topics.face(household, camera),
                "content_type": "image/jpeg",
            },
            "last_name": {
                "platform": "sensor",
                "unique_id": f"{ident}_last_name",
                "name": "Last seen",
                "state_topic": visit_topic,
                "value_template": "{{ value_json.name if value_json.name else 'stranger' }}",
            },
        },
    }


def visit_payload(
    alert: Alert,
    *,
    kind: VisitKind,
    frame_url: str,
    face_url: str | None,
    console_url: str | None,
) -> dict[str, Any]:
    """The visit message: `event_type` for Home Assistant's event entity, and the rest for
    any subscriber. `alert_id` lets a subscriber drop a message delivered twice."""
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
    }


def alert_messages(
    topics: Topics,
    alert: Alert,
    *,
    face_jpeg: bytes | None,
    frame_url: str,
    face_url: str | None,
    console_url: str | None = None,
) -> list[Message]:
    """Everything one alert publishes, in order: the camera's discovery config first (so a
    new camera is announced before its first message), then its face, then the visit."""
    household, camera = alert.household, alert.camera
    config = json.dumps(discovery_config(topics, household, camera), sort_keys=True).encode()
    messages = [Message(topics.discovery(household, camera), config, retain=True)]
    if face_jpeg is not None:
        messages.append(Message(topics.face(household, camera), face_jpeg, retain=True))
    kind: VisitKind = "known" if alert.kind == "arrival" else "stranger"
    visit = visit_payload(alert, kind=kind, frame_url=frame_url, face_url=face_url, console_url=console_url)
    messages.append(Message(topics.visit(household, camera), json.dumps(visit).encode(), retain=False))
    return messages


def discovery_messages(topics: Topics, household: str, cameras: list[str]) -> list[Message]:
    """The configs of a household's cameras, for when its channels or cameras change."""
    return [
        Message(
            topics.discovery(household, camera),
            json.dumps(discovery_config(topics, household, camera), sort_keys=True).encode(),
            retain=True,
        )
        for camera in cameras
    ]
