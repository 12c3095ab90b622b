"""A followed person's presence going away, as plain data: which retained presence messages
(Topics.presence, published by notify at each arrival) are older than the household's
`presence_away_after_minutes`, and the not_home message that replaces each. No I/O here:
the bridge (`mqtt_bridge.py`) holds what it last received and publishes what this returns.

Home Assistant renders a sensor's template only when a message arrives, so without a new
message a sensor would name the camera for ever; the not_home message is that new message.
It keeps `at` (when last seen), the distance and the visit, and says the camera as
`last_camera`; `camera` null is what the sensor's template renders as not_home, and what
tells the bridge that it has nothing more to say (its own message comes back to it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from facewatch.alerts.home_assistant import LastSeen, Topics


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A presence message the bridge cannot judge; `why` goes to its log, and it is left
    alone on the broker."""

    why: str


def read_last_seen(payload: bytes) -> LastSeen | Unreadable:
    try:
        data = json.loads(payload)
        at = datetime.fromisoformat(data["at"])
        camera, last_camera = data.get("camera"), data.get("last_camera")
        distance, visit_id = data.get("distance"), data.get("visit_id")
        if not isinstance(camera, str | None) or not isinstance(last_camera, str | None):
            raise ValueError("camera is not a name")
        if not isinstance(distance, int | float | None) or not isinstance(visit_id, str | None):
            raise ValueError("distance or visit_id of the wrong type")
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        shown = payload[:60].decode("utf-8", "replace")
        return Unreadable(f"{shown!r} is no presence message ({exc})")
    # Messages of this code carry an offset; one without is taken as UTC, not refused.
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return LastSeen(camera, at, distance, visit_id, last_camera)


def person_of(topics: Topics, household: str, topic: str) -> str | None:
    """The person a presence topic of `household` is about; None for any other topic."""
    person = topic.removeprefix(topics.presence(household, ""))
    return person if person != topic and person else None


def gone_away(seen: LastSeen, now: datetime, away_after: timedelta) -> LastSeen | None:
    """The not_home to publish, or None: seen within `away_after`, or already away."""
    if seen.camera is None or now - seen.at < away_after:
        return None
    return replace(seen, camera=None, last_camera=seen.camera)


def gone(
    followed: Iterable[str], last_seen: Mapping[str, LastSeen], now: datetime, away_after: timedelta
) -> dict[str, LastSeen]:
    """The not_home due at `now` per person, of the people a household follows (presence on,
    in `arrivals`; turning either off clears their messages elsewhere, `announce.py`)."""
    due = {}
    for person in followed:
        seen = last_seen.get(person)
        away = gone_away(seen, now, away_after) if seen is not None else None
        if away is not None:
            due[person] = away
    return due
