"""The household check's figures (recognize/household_check.py) on a household whose
encodings are chosen so every figure is worked out by hand: three people on the axes of
the encoding space, so each distance is a square root of a sum of squares."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from facewatch.faces.gallery import Gallery
from facewatch.recognize.day_index import DayIndex, FaceEntry, entry_of
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.household_check import (
    Light,
    PhotoCover,
    Tally,
    View,
    check_household,
    lines,
    whose,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
KEY = "households/home/known/{}/{}.jpg"


def axis(*parts: tuple[int, float]) -> np.ndarray:
    row = np.zeros(128, dtype=np.float32)
    for i, v in parts:
        row[i] = v
    return row


# alice: a1 at the origin, a2 0.3 along axis 1; bob 0.5 along axis 2; carol 0.9 along axis 3.
GALLERY = Gallery(
    names=["alice", "alice", "bob", "carol"],
    encodings=np.array([axis(), axis((1, 0.3)), axis((2, 0.5)), axis((3, 0.9))]),
    photo_keys=[
        KEY.format("alice", "a1"),
        KEY.format("alice", "a2"),
        KEY.format("bob", "b1"),
        KEY.format("carol", "c1"),
    ],
    photo_etags=["e1", "e2", "e3", "e4"],
)
# s1 is 0.4 from a2 (0.3 e1 + 0.4 e4), s2 0.7 from carol (0.9 e3 + 0.7 e5).
STRANGER_IDS = ["stranger-s1", "stranger-s2"]
STRANGER_ROWS = np.array([axis((1, 0.3), (4, 0.4)), axis((3, 0.9), (5, 0.7))])
COVERS = {
    KEY.format("alice", "a1"): PhotoCover(KEY.format("alice", "a1"), 5.0, False),
    KEY.format("alice", "a2"): PhotoCover(KEY.format("alice", "a2"), 30.0, True),
    KEY.format("bob", "b1"): PhotoCover(KEY.format("bob", "b1"), None, False),
}

# Three people are too few to measure: the encoder's prior N(0.80, 0.09), and α/P = 0.02/3.
Z = -2.474_77  # the standard normal's 0.02/3 quantile
THRESHOLD = 0.80 + 0.09 * Z  # 0.5773, under the 0.6 cap and over the 0.4 floor
NEAR = 0.80 + 0.09 * -1.644_85  # the prior's 5 % quantile: 0.6520


def face(n: int, verdict: str, *, name=None, nearest=None, distance=None, at=NOW - timedelta(hours=1)):
    return FaceEntry(
        f"home/f{n}#0",
        f"households/home/frames/door/x/f{n}.jpg",
        "door",
        at,
        verdict,
        (0, 0, 80, 80),
        name=name,
        distance=distance,
        nearest=nearest,
    )


FACES = [
    face(1, "known", name="alice", nearest="alice", distance=0.3),
    face(2, "known", name="alice", nearest="alice", distance=0.35),
    face(3, "stranger", nearest="alice", distance=0.62),  # a near-miss: alice's
    face(4, "stranger", nearest="alice", distance=0.70),  # farther than NEAR: nobody's
    face(5, "unsure", nearest="bob", distance=0.58),  # held back on a known-only track: bob's
    face(6, "unsure"),  # too small to compare: nobody's
    face(7, "known", name="zed", nearest="zed", distance=0.2),  # someone no longer known
    face(8, "known", name="bob", nearest="bob", distance=0.4),
    face(9, "known", name="alice", nearest="alice", distance=0.3, at=SINCE - timedelta(hours=1)),  # too old
]


def run(waiting=None, faces=FACES):
    return check_household(
        "home",
        GALLERY,
        MatchPolicy(),
        covers=COVERS,
        faces=faces,
        stranger_ids=STRANGER_IDS,
        stranger_rows=STRANGER_ROWS,
        waiting=waiting or {"alice": 2, "someone-gone": 5},
        since=SINCE,
        until=NOW,
    )


def test_the_threshold_and_the_chance_a_stranger_is_named_come_from_the_impostor_fit():
    check = run()
    assert check.threshold == pytest.approx(THRESHOLD, abs=1e-4)
    odds = check.stranger_named
    assert (odds.people, odds.measured, odds.impostor_mean, odds.impostor_sd) == (3, False, 0.80, 0.09)
    # Each person is within T of a stranger with α/P, so some is with 1 - (1 - α/P)^P.
    assert odds.chance == pytest.approx(1 - (1 - 0.02 / 3) ** 3, abs=1e-6)
    assert check.near == pytest.approx(NEAR, abs=1e-4)


def test_the_closest_pair_is_the_nearest_two_photos_of_two_people_and_is_within_the_threshold():
    pair = run().closest_pair
    assert pair is not None
    assert pair.people == ("alice", "bob") and pair.photos == (
        KEY.format("alice", "a1"),
        KEY.format("bob", "b1"),
    )
    assert pair.distance == pytest.approx(0.5)  # a2-b1 is sqrt(0.3² + 0.5²) = 0.583, carol ≥ 0.9
    assert pair.within_threshold
    assert "a face of one can be named as the other" in "\n".join(lines(run()))


def test_each_persons_photos_faces_nearest_stranger_and_questions():
    alice, bob, carol = run().people
    assert [(p.view, p.light) for p in alice.photos] == [(View.FRONTAL, Light.DAY), (View.TURNED, Light.IR)]
    assert alice.covers() == {"frontal": 1, "turned": 1, "day": 1, "ir": 1} and alice.missing() == []
    assert bob.missing() == ["frontal", "turned", "ir"]  # its one photo's face was not found again
    assert bob.missing_text() == "no frontal, turned or IR photo" and alice.missing_text() == ""
    assert carol.photos[0].view is View.UNKNOWN  # not measured: missing from the covers
    assert alice.faces == {Tally.NAMED: 2, Tally.UNSURE: 0, Tally.STRANGER: 1}
    assert bob.faces == {Tally.NAMED: 1, Tally.UNSURE: 1, Tally.STRANGER: 0}
    assert carol.seen == 0
    assert run().faces_nobodys == 3  # faces 4, 6 and 7; face 9 is outside the week
    assert alice.nearest_stranger is not None and bob.nearest_stranger is not None
    assert carol.nearest_stranger is not None
    assert (alice.nearest_stranger.stranger_id, alice.nearest_stranger.within_threshold) == (
        "stranger-s1",
        True,
    )
    assert alice.nearest_stranger.distance == pytest.approx(0.4)
    assert bob.nearest_stranger.distance == pytest.approx(math.sqrt(0.3**2 + 0.5**2 + 0.4**2))
    assert (carol.nearest_stranger.stranger_id, carol.nearest_stranger.distance) == (
        "stranger-s2",
        pytest.approx(0.7),
    )
    assert not carol.nearest_stranger.within_threshold
    assert [p.questions_waiting for p in (alice, bob, carol)] == [2, 0, 0]


def test_the_json_has_one_entry_per_person_the_closest_pair_and_the_threshold():
    data = run().to_json()
    assert [p["name"] for p in data["people"]] == ["alice", "bob", "carol"]
    assert data["threshold"] == round(THRESHOLD, 4)
    assert data["closest_pair"] == {
        "people": ["alice", "bob"],
        "distance": 0.5,
        "photos": [KEY.format("alice", "a1"), KEY.format("bob", "b1")],
        "within_threshold": True,
    }
    assert data["people"][0]["faces"] == {"named": 2, "unsure": 0, "stranger": 1}
    assert data["people"][0]["photos"][1] == {
        "key": KEY.format("alice", "a2"),
        "view": "turned",
        "light": "ir",
        "yaw_degrees": 30.0,
    }


def test_one_person_has_no_pair_and_no_stranger_is_no_nearest_stranger():
    one = Gallery(names=["alice"], encodings=np.array([axis()]), photo_keys=["k"], photo_etags=["e"])
    check = check_household(
        "home",
        one,
        MatchPolicy(),
        covers={},
        faces=[],
        stranger_ids=[],
        stranger_rows=np.zeros((0, 128)),
        waiting={},
        since=SINCE,
        until=NOW,
    )
    assert check.closest_pair is None and check.people[0].nearest_stranger is None
    # α/P = 0.02 would put T at 0.8 - 2.054 * 0.09 = 0.615: capped at 0.6, where the fit
    # gives Φ((0.6 - 0.8) / 0.09) = Φ(-2.222), under α.
    assert check.threshold == 0.6
    assert check.stranger_named.chance == pytest.approx(0.013134, abs=1e-6)
    assert "no stranger remembered" in "\n".join(lines(check))


def test_whose_needs_a_nearest_person_still_known_and_near_enough():
    people = ["alice"]
    assert whose(face(1, "stranger", nearest="alice", distance=0.5), people, 0.6) == ("alice", Tally.STRANGER)
    assert whose(face(1, "stranger", nearest="alice", distance=0.61), people, 0.6) is None
    assert whose(face(1, "stranger", nearest="bob", distance=0.1), people, 0.6) is None
    assert whose(face(1, "stranger", distance=0.1), people, 0.6) is None


def test_a_summary_keeps_the_nearest_person_and_one_written_before_it_is_still_read():
    result = {
        "camera": "door",
        "frame_key": "households/home/frames/door/20261206/120000000000-abcdef01.jpg",
        "captured_at": NOW.isoformat(),
        "faces": [{"box": [0, 0, 80, 80], "verdict": "stranger", "distance": 0.62, "nearest": "alice"}],
    }
    entry = entry_of(result)
    assert entry is not None
    index = DayIndex("20261206").with_entries([entry])
    again = DayIndex.from_dict(index.to_dict())
    assert again.faces()[0].nearest == "alice"
    before = index.to_dict()
    before["frames"][0][3][0] = before["frames"][0][3][0][:10]  # as written before `nearest`
    assert DayIndex.from_dict(before).faces()[0].nearest is None
