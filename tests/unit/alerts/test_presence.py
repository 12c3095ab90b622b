"""Presence going away as plain data (issue 26): which retained presence messages are stale
for the household's away time, the not_home that replaces each, and what is left alone:
a fresh one, one already away (the bridge's own message coming back), people not
followed, and messages the bridge cannot read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from facewatch.alerts.home_assistant import LastSeen, Topics, presence_message
from facewatch.alerts.presence import Unreadable, gone, gone_away, person_of, read_last_seen

TOPICS = Topics("facewatch", "homeassistant/{household}")
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
AWAY = timedelta(minutes=30)


def seen(minutes_ago: float, camera: str | None = "front_door") -> LastSeen:
    return LastSeen(camera, NOW - timedelta(minutes=minutes_ago), 0.38, "v1")


def test_a_person_seen_longer_ago_than_the_away_time_is_not_home_with_where_and_when_kept():
    away = gone_away(seen(31), NOW, AWAY)
    assert away == LastSeen(None, NOW - timedelta(minutes=31), 0.38, "v1", last_camera="front_door")
    assert json.loads(away.payload()) == {
        "camera": None,
        "at": (NOW - timedelta(minutes=31)).isoformat(),
        "distance": 0.38,
        "visit_id": "v1",
        "last_camera": "front_door",
    }
    assert gone_away(seen(30), NOW, AWAY) is not None, "the away time itself is away"


def test_a_fresh_one_and_one_already_away_are_left_alone():
    assert gone_away(seen(29.9), NOW, AWAY) is None
    assert gone_away(seen(0), NOW, AWAY) is None
    already = gone_away(seen(60), NOW, AWAY)
    assert already is not None
    assert gone_away(already, NOW + timedelta(days=1), AWAY) is None, "no loop on its own message"


def test_only_the_followed_people_with_a_message_are_due():
    last = {"Mum": seen(45), "Dad": seen(5), "Gran": seen(90, camera=None), "Ex": seen(600)}
    due = gone(["Mum", "Dad", "Gran", "Kid"], last, NOW, AWAY)
    assert list(due) == ["Mum"], "Ex is no longer followed; Kid never seen; Gran already away"
    assert gone([], last, NOW, AWAY) == {}


def test_what_notify_publishes_reads_back_the_same():
    mine = seen(3)
    message = presence_message(TOPICS, "smith", "Jean-Luc Picard", mine)
    assert message.topic == "facewatch/smith/presence/Jean-Luc Picard" and message.retain
    assert set(json.loads(message.payload)) == {"camera", "at", "distance", "visit_id"}
    assert read_last_seen(message.payload) == mine
    away = gone_away(mine, NOW + AWAY, AWAY)
    assert away is not None
    assert read_last_seen(presence_message(TOPICS, "smith", "x", away).payload) == away


def test_an_at_without_an_offset_is_taken_as_utc():
    read = read_last_seen(b'{"camera": "door", "at": "2026-12-06T08:00:00"}')
    assert read == LastSeen("door", datetime(2026, 12, 6, 8, 0, tzinfo=UTC), None, None)


@pytest.mark.parametrize(
    "payload",
    [b"ON", b"{}", b"[]", b'{"camera": "door"}', b'{"at": "yesterday"}', b'{"at": 5}', b"\xff",
     b'{"camera": 3, "at": "2026-12-06T08:00:00+00:00"}',
     b'{"camera": "door", "at": "2026-12-06T08:00:00+00:00", "distance": "near"}'],
)  # fmt: skip
def test_what_is_no_presence_message_is_unreadable_with_what_it_was(payload):
    read = read_last_seen(payload)
    assert isinstance(read, Unreadable)
    assert "is no presence message" in read.why


def test_the_person_of_a_presence_topic():
    assert person_of(TOPICS, "smith", "facewatch/smith/presence/Jean-Luc Picard") == "Jean-Luc Picard"
    assert person_of(TOPICS, "smith", "facewatch/smith_x/presence/Mum") is None
    assert person_of(TOPICS, "smith", "facewatch/smith/presence/") is None
    assert person_of(TOPICS, "smith", "facewatch/smith/armed/set") is None
