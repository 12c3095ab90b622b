"""The console's summaries (recognize/day_index.py): a result in, its entry out; visits
grouped as the console shows them; faces in no visit folded per camera and hour; who came
on which day, moved from the stranger id to the name once the stranger is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from facewatch.recognize.day_index import (
    DayIndex,
    Outcome,
    PeopleIndex,
    day_people,
    entry_of,
    folds,
    visit_of,
    visits,
    with_day,
)

T0 = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def result(seconds: float, faces: list[dict], camera: str = "door", name: str | None = None) -> dict:
    at = T0 + timedelta(seconds=seconds)
    stem = name or f"{at.strftime('%H%M%S%f')}-abcdef{int(seconds):06d}"
    return {
        "household": "home",
        "camera": camera,
        "frame_key": f"households/home/frames/{camera}/{at.strftime('%Y%m%d')}/{stem}.jpg",
        "captured_at": at.isoformat(),
        "faces": faces,
    }


def stranger(visit: str, sid: str, alert: dict | str, size: int = 80, sharp: float | None = None) -> dict:
    face = {"box": [10, 10, size, size], "verdict": "stranger", "visit_id": visit, "stranger_id": sid}
    return {**face, "alert": alert, "sharpness": sharp}


def unsure(size: int = 30) -> dict:
    return {"box": {"x": 1, "y": 2, "w": size, "h": size}, "verdict": "unsure", "reason": "face too small"}


def known(name: str) -> dict:
    return {"box": [0, 0, 100, 100], "verdict": "known", "name": name, "distance": 0.4}


def day(*results: dict) -> DayIndex:
    entries = [e for r in results if (e := entry_of(r)) is not None]
    return DayIndex("20261205").with_entries(entries)


def test_a_stranger_visit_is_one_card_with_its_sharpest_largest_face_and_its_alert():
    index = day(
        result(0, [stranger("visit-a", "stranger-1", {"status": "sent", "detail": "email"}, 60, 200.0)]),
        result(2, [stranger("visit-a", "stranger-1", "suppressed: same visit", 120, 150.0), unsure()]),
        result(4, [stranger("visit-a", "stranger-1", "suppressed: same visit", 130, 10.0)]),
    )
    [card] = visits(index.faces())
    assert card.who == "stranger-1" and card.verdict == "stranger"
    assert card.outcome is Outcome.ALERTED
    assert len(card.faces) == 3 and card.frames == 3
    assert card.best.box[2] == 120  # larger than the first, sharper than the last
    assert card.first == T0 and card.last == T0 + timedelta(seconds=4)
    [fold] = folds(index.faces())
    assert fold.camera == "door" and len(fold.faces) == 1 and fold.hour == T0


def test_a_visit_held_back_says_by_which_rule():
    index = day(result(0, [stranger("visit-b", "stranger-2", "suppressed: no alerts for stranger-2")]))
    [card] = visits(index.faces())
    assert card.outcome is Outcome.HELD_BACK and card.detail == "no alerts for stranger-2"


def test_a_known_persons_faces_at_a_camera_are_one_visit_until_a_gap():
    index = day(result(0, [known("obama")]), result(60, [known("obama")]), result(3600, [known("obama")]))
    cards = visits(index.faces())
    assert [len(c.faces) for c in cards] == [1, 2]  # newest first
    assert all(c.outcome is Outcome.KNOWN and c.who == "obama" for c in cards)


def test_a_named_stranger_relabels_the_visit_and_the_people_index():
    face = stranger("visit-c", "stranger-3", {"status": "sent"})
    first = result(0, [face], name="180000000000-aaaaaaaaaaaa")
    index = day(first)
    people = with_day(PeopleIndex(), index.day, day_people(index))
    assert people.people == {"stranger-3": {"20261205": {"door": 1}}}
    looked = dict(first)
    looked["faces"] = [
        {
            **first["faces"][0],
            "verdict": "known",
            "name": "rose",
            "stranger_id": None,
            "looked_again": {"at": "x", "was": {"verdict": "stranger", "stranger_id": "stranger-3"}},
        }
    ]
    index = index.with_entries([entry_of(looked)])  # the same frame, rewritten
    [card] = visits(index.faces())
    assert card.who == "rose" and card.outcome is Outcome.ALERTED and card.faces[0].was == "stranger-3"
    people = with_day(people, index.day, day_people(index))
    assert people.people == {"rose": {"20261205": {"door": 1}}}


def test_a_face_named_by_looking_again_joins_the_named_strangers_visit_not_a_card_of_its_own():
    named = {"verdict": "known", "name": "rose", "stranger_id": None}
    visit = [
        result(s, [{**stranger("visit-d", "stranger-4", "suppressed: same visit"), **named}])
        for s in (60, 90)
    ]
    near = result(30, [known("rose")])  # left unsure when judged, named since: before the visit's faces
    later = result(90 + 60, [known("rose")])
    apart = result(90 + 3600, [known("rose")])
    elsewhere = result(70, [known("rose")], camera="garden")
    cards = visits(day(*visit, near, later, apart, elsewhere).faces())
    assert [(c.visit_id, len(c.faces)) for c in cards][1:] == [("visit-d", 4), (cards[2].visit_id, 1)]
    assert cards[0].first == T0 + timedelta(seconds=90 + 3600)
    assert cards[2].cameras == ("garden",)


def test_the_summary_round_trips_and_a_face_finds_its_visit():
    index = day(
        result(0, [stranger("visit-a", "stranger-1", {"status": "sent"}), unsure()]),
        result(1, [unsure()], camera="garden"),
        {"frame_key": "households/home/frames/door/20261205/x.jpg", "error": "not an image"},
    )
    again = DayIndex.from_dict(index.to_dict())
    assert again.frames == index.frames
    vid = index.faces()[0].verdict_id
    found = visit_of(again.faces(), vid)
    assert found is not None and found.visit_id == "visit-a"
    assert visit_of(again.faces(), index.faces()[1].verdict_id) is None  # unsure: in no visit
    assert [f.camera for f in folds(again.faces())] == ["garden", "door"]
