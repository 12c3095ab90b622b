"""Which frames and results retention removes, and which it must keep whatever their age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.household.retention import Marks, expired_objects, marks_from, oldest_kept_day
from facewatch.household.settings import HouseholdSettings

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
OLD = "households/home/frames/door/20260101/101010000000-aaaaaaaa.jpg"
OLD_RESULT = "households/home/results/door/20260101/101010000000-aaaaaaaa.json"
NEW = "households/home/frames/door/20260330/101010000000-bbbbbbbb.jpg"
NEW_RESULT = "households/home/results/door/20260330/101010000000-bbbbbbbb.json"
NONE = Marks(frozenset(), frozenset())
MEMORY = timedelta(days=30)
RECENT = (NOW - timedelta(days=2)).isoformat()
LONG_AGO = (NOW - timedelta(days=60)).isoformat()


def marks(visits=None, strangers=None, negatives=(), known=()):
    return marks_from(visits or {}, strangers or {}, negatives, known, now=NOW, stranger_memory=MEMORY)


def test_frames_and_results_older_than_the_retention_go_and_newer_stay():
    oldest = oldest_kept_day(NOW, 30)
    assert oldest == "20260301"
    doomed = expired_objects([OLD, NEW], [OLD_RESULT, NEW_RESULT], NONE, oldest)
    assert sorted(doomed) == sorted([OLD, OLD_RESULT])


def test_a_result_whose_frame_is_gone_goes_by_its_own_day():
    orphan = "households/home/results/door/20260102/101010000000-cccccccc.json"
    assert expired_objects([], [orphan, NEW_RESULT], NONE, "20260301") == [orphan]


@pytest.mark.parametrize(
    "marks",
    [
        marks(visits={"visits": [{"last_seen": RECENT, "frame_keys": [OLD]}]}),
        marks(visits={"visits": [{"last_seen": LONG_AGO, "alerted_at": RECENT, "frame_keys": [OLD]}]}),
        marks(strangers={"strangers": [{"last_seen": RECENT, "recent": [{"frame_key": OLD}]}]}),
        marks(negatives=["home/door/20260101/101010000000-aaaaaaaa#0"]),
        marks(known=["households/home/known/Ann/face-101010000000-aaaaaaaa-10-20.jpg"]),
        marks(known=["households/home/known/Kit/s-1f2e-face-101010000000-aaaaaaaa-10-20.jpg"]),
    ],
    ids=["open-visit", "visit-in-cooldown", "stranger-sighting", "corrected", "named", "stranger-named"],
)
def test_what_a_visit_a_stranger_or_a_person_still_needs_stays(marks):
    assert expired_objects([OLD], [OLD_RESULT], marks, "20260301") == []


def test_a_visit_long_over_and_a_forgotten_stranger_keep_nothing():
    found = marks(
        visits={"visits": [{"last_seen": LONG_AGO, "alerted_at": None, "frame_keys": [OLD]}]},
        strangers={"strangers": [{"last_seen": LONG_AGO, "recent": [{"frame_key": OLD}]}]},
    )
    assert sorted(expired_objects([OLD], [OLD_RESULT], found, "20260301")) == sorted([OLD, OLD_RESULT])


def test_keys_that_are_not_facewatch_frames_are_left_alone():
    assert expired_objects(["households/home/frames/door/notes.txt"], [], NONE, "20260301") == []


def test_retention_days_defaults_to_30_and_refuses_nonsense():
    assert HouseholdSettings().retention_days == 30
    assert HouseholdSettings.model_validate_json(b"{}").retention_days == 30  # old settings.json
    for bad in (0, -1, 100000):
        with pytest.raises(ValueError):
            HouseholdSettings(retention_days=bad)
