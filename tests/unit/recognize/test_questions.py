"""The questions' pure core: which faces become questions (the band, the margin rule, unsure,
feedback), which are asked first and how many a day, and what an answer or time removes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from facewatch.faces.gallery import Gallery
from facewatch.frames import Box
from facewatch.recognize.decisions import MatchPolicy, gallery_model, judge_face
from facewatch.recognize.questions import (
    GENUINE_SPREAD,
    MAX_SUPPORT,
    PRIOR_GENUINE,
    QUESTION_DAYS,
    QUESTIONS_PER_DAY,
    Band,
    NearMiss,
    NearMissKind,
    NotWaiting,
    QuestionBook,
    answer,
    expire,
    near_miss,
    near_misses,
    offer,
    question_band,
    waiting_by_person,
    waiting_questions,
)
from facewatch.records import Alert, FaceState, FaceVerdict

POLICY = MatchPolicy(threshold=0.6, min_face_px=40, min_sharpness=15.0)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SAME = 0.55
FRAME = "households/home/frames/door/20261206/120000000000-abcdefabcdef.jpg"
BAND = Band(threshold=0.5, upper=0.64, measured=False)


def at(*coords: float) -> np.ndarray:
    v = np.zeros(128)
    v[: len(coords)] = coords
    return v


def gallery(*rows: tuple[str, np.ndarray]) -> Gallery:
    return Gallery(
        names=[n for n, _ in rows],
        encodings=np.array([e for _, e in rows], dtype=np.float32).reshape(-1, 128),
        photo_keys=[f"k{i}" for i in range(len(rows))],
        photo_etags=["e"] * len(rows),
    )


def verdict(
    verdict: str = "stranger", nearest: str | None = "ann", distance: float | None = 0.58
) -> FaceVerdict:
    return FaceVerdict(
        box=Box(0, 0, 80, 80), verdict=verdict, state=FaceState.JUDGED, nearest=nearest, distance=distance
    )


def miss(
    person: str = "ann", x: float = 0.0, *, face: int = 0, frame: str = FRAME, d: float = 0.58
) -> NearMiss:
    """A near-miss whose encoding sits at x on one axis (near-misses 0.6 apart are unrelated)."""
    return NearMiss(frame, face, person, d, NearMissKind.BEYOND, tuple(at(x).tolist()))


def frame(n: int) -> str:
    return FRAME.replace("abcdefabcdef", f"{n:012d}")


# --- which faces -------------------------------------------------------------------------


def test_band_uses_the_prior_genuine_spread_while_each_person_has_one_photo() -> None:
    g = gallery(("ann", at(0.0)), ("bob", at(1.0)))
    band = question_band(g, POLICY)
    assert not band.measured
    assert band.threshold == gallery_model(g).threshold(POLICY)
    assert band.upper == pytest.approx(PRIOR_GENUINE[0] + GENUINE_SPREAD * PRIOR_GENUINE[1])


def test_band_is_measured_on_the_gallerys_own_same_person_pairs() -> None:
    rng = np.random.default_rng(1)
    rows = [("ann", at(0.0) + rng.normal(scale=0.02, size=128)) for _ in range(6)]  # 15 pairs
    g = gallery(*rows, ("bob", at(2.0)))
    band = question_band(g, POLICY)
    same = [np.linalg.norm(a[1] - b[1]) for i, a in enumerate(rows) for b in rows[i + 1 :]]
    assert band.measured
    # Tight photos of one person: the band shrinks to the threshold (never below it).
    assert band.upper == pytest.approx(
        max(band.threshold, np.mean(same) + GENUINE_SPREAD * np.std(same)), abs=1e-4
    )


@pytest.mark.parametrize(
    ("face", "kind"),
    [
        (verdict("stranger", "ann", 0.58), NearMissKind.BEYOND),
        (verdict("stranger", "ann", 0.45), NearMissKind.NOT_CLEARLY),  # within T: the margin rule
        (verdict("unsure", "ann", 0.45), NearMissKind.UNSURE),
        (verdict("stranger", "ann", 0.64), NearMissKind.BEYOND),  # the band's edge is in it
    ],
)
def test_a_near_miss_is_a_candidate(face: FaceVerdict, kind: NearMissKind) -> None:
    found = near_miss(face, index=2, frame_key=FRAME, encoding=at(0.1), band=BAND)
    assert found is not None
    assert (found.kind, found.person, found.face, found.distance) == (kind, "ann", 2, face.distance)


@pytest.mark.parametrize(
    "face",
    [
        verdict("stranger", "ann", 0.65),  # beyond the genuine edge: a yes is all but impossible
        verdict("known", "ann", 0.3),
        verdict("stranger", None, None),  # compared with nobody
        verdict("unsure", "ann", 0.7),
        FaceVerdict(
            box=Box(0, 0, 80, 80),
            verdict="unsure",
            state=FaceState.CANNOT_DECIDE,
            nearest="ann",
            distance=0.4,
        ),
    ],
)
def test_not_a_candidate(face: FaceVerdict) -> None:
    assert near_miss(face, index=0, frame_key=FRAME, encoding=at(0.1), band=BAND) is None


def test_a_person_the_household_ruled_out_is_not_asked_about() -> None:
    face = verdict("stranger", "ann", 0.58)
    assert near_miss(face, index=0, frame_key=FRAME, encoding=at(0.1), band=BAND, ruled_out={"ann"}) is None
    assert near_miss(face, index=0, frame_key=FRAME, encoding=None, band=BAND) is None


def test_near_misses_of_a_judged_frame_and_feedback() -> None:
    """Through the judge itself: a face 0.58 from ann, beyond the threshold in force (0.5
    here), is asked about, unless ann's negatives disown it."""
    policy = MatchPolicy(threshold=0.5, min_face_px=40, min_sharpness=15.0)
    g = gallery(("ann", at(0.0)), ("bob", at(0.0, 3.0)))
    face_at = at(0.58)
    j = judge_face(face_at, face_px=80, sharpness=50.0, gallery=g, policy=policy)
    assert (j.verdict, j.nearest) == ("stranger", "ann")
    face = FaceVerdict(
        box=Box(0, 0, 80, 80), verdict=j.verdict, state=j.state, nearest=j.nearest, distance=j.distance
    )
    found = near_misses([face], {0: face_at}, frame_key=FRAME, gallery=g, policy=policy)
    assert [(m.person, m.kind) for m in found] == [("ann", NearMissKind.BEYOND)]
    negatives = {"ann": at(0.6).reshape(1, 128)}  # nearer the face than ann's photo is
    assert (
        near_misses([face], {0: face_at}, frame_key=FRAME, gallery=g, policy=policy, negatives=negatives)
        == []
    )
    assert near_misses([face], {0: face_at}, frame_key=FRAME, gallery=None, policy=policy) == []


# --- which first, how many -----------------------------------------------------------------


def test_the_first_near_miss_is_asked_and_later_ones_of_the_same_face_count_for_it() -> None:
    book, placed = offer(QuestionBook(), [miss()], household="home", now=NOW, same_person=SAME)
    assert [q.person for q in waiting_questions(book, NOW)] == ["ann"]
    question = placed[0]
    assert (question.frame_key, question.face, question.asked_at) == (FRAME, 0, NOW)
    book, placed = offer(book, [miss(x=0.1, frame=frame(2))], household="home", now=NOW, same_person=SAME)
    assert placed[0] == question  # the same person's same face: no second question
    assert book.waiting[0].candidate.support == 2
    assert waiting_by_person(book, NOW) == {"ann": 1}


def test_at_most_a_few_questions_a_day_per_person() -> None:
    book = QuestionBook()
    for n in range(QUESTIONS_PER_DAY + 2):  # faces far apart: separate questions
        book, placed = offer(
            book, [miss(x=n * 1.0, frame=frame(n))], household="home", now=NOW, same_person=SAME
        )
    assert waiting_by_person(book, NOW) == {"ann": QUESTIONS_PER_DAY}
    assert 0 not in placed  # the last one waits as a candidate
    assert len(book.candidates) == 2
    book, _ = offer(book, [miss("bob", frame=frame(99))], household="home", now=NOW, same_person=SAME)
    assert waiting_by_person(book, NOW)["bob"] == 1  # the limit is per person
    # Answered questions count towards the day: answering does not open the gate.
    book, _ = answer(book, book.waiting[0].question.question_id, now=NOW, same_person=SAME)
    book, _ = offer(book, [miss(x=40.0, frame=frame(40))], household="home", now=NOW, same_person=SAME)
    assert waiting_by_person(book, NOW)["ann"] == QUESTIONS_PER_DAY - 1


def test_the_most_useful_candidate_is_asked_first() -> None:
    """When the day's limit frees, the candidate standing for most near-misses is asked,
    not the oldest or the newest."""
    book = QuestionBook()
    for n in range(QUESTIONS_PER_DAY):
        book, _ = offer(book, [miss(x=n * 1.0, frame=frame(n))], household="home", now=NOW, same_person=SAME)
    lone = miss(x=10.0, frame=frame(10))
    seen_often = [miss(x=20.0 + 0.01 * k, frame=frame(20 + k)) for k in range(3)]
    later = miss(x=30.0, frame=frame(30))
    for m in [lone, *seen_often, later]:
        book, _ = offer(book, [m], household="home", now=NOW + timedelta(hours=1), same_person=SAME)
    assert sorted(c.support for c in book.candidates) == [1, 1, 3]
    tomorrow = NOW + timedelta(days=1, hours=2)
    book, _ = offer(book, [miss("bob", frame=frame(77))], household="home", now=tomorrow, same_person=SAME)
    asked = [q for q in waiting_questions(book, tomorrow) if q.person == "ann" and q.asked_at == tomorrow]
    assert asked[0].frame_key == frame(20)  # the most supported, asked first...
    assert len(asked) == QUESTIONS_PER_DAY  # ...then the others as the limit allows
    # And the console shows them most useful first.
    assert waiting_questions(book, tomorrow)[0].frame_key == frame(20)


def test_a_count_at_its_cap_changes_nothing_so_nothing_is_written() -> None:
    book, _ = offer(QuestionBook(), [miss()], household="home", now=NOW, same_person=SAME)
    for n in range(MAX_SUPPORT + 3):
        after, placed = offer(
            book, [miss(x=0.01, frame=frame(n))], household="home", now=NOW, same_person=SAME
        )
        assert placed[0].frame_key == FRAME
        if after == book:
            break
        book = after
    assert book.waiting[0].candidate.support == MAX_SUPPORT
    assert (
        offer(book, [miss(x=0.02)], household="home", now=NOW + timedelta(minutes=5), same_person=SAME)[0]
        == book
    )


# --- answered, expired ---------------------------------------------------------------------


def test_an_answer_removes_the_question_and_the_near_misses_it_settles() -> None:
    book = QuestionBook()
    for n in range(QUESTIONS_PER_DAY):
        book, _ = offer(book, [miss(x=n * 1.0, frame=frame(n))], household="home", now=NOW, same_person=SAME)
    book, _ = offer(book, [miss(x=9.0, frame=frame(9))], household="home", now=NOW, same_person=SAME)
    first = next(a for a in book.waiting if a.question.frame_key == frame(0))
    book2, gone = answer(book, first.question.question_id, now=NOW, same_person=SAME)
    assert gone == first.question
    assert first.question.question_id not in {q.question_id for q in waiting_questions(book2, NOW)}
    assert [c.miss.frame_key for c in book2.candidates] == [frame(9)]  # far: not settled
    with pytest.raises(NotWaiting, match="answered already"):
        answer(book2, first.question.question_id, now=NOW, same_person=SAME)


def test_answering_settles_candidates_near_it() -> None:
    book, _ = offer(QuestionBook(), [miss()], household="home", now=NOW, same_person=SAME)
    from dataclasses import replace

    from facewatch.recognize.questions import Candidate

    near = Candidate(miss(x=0.3, frame=frame(3)), 1, NOW)  # left by a cache's stale view
    book = replace(book, candidates=(near, Candidate(miss("bob", frame=frame(4)), 1, NOW)))
    after, _ = answer(book, book.waiting[0].question.question_id, now=NOW, same_person=SAME)
    assert [c.miss.person for c in after.candidates] == ["bob"]


def test_questions_and_near_misses_expire() -> None:
    book, _ = offer(QuestionBook(), [miss()], household="home", now=NOW, same_person=SAME)
    question = book.waiting[0].question
    later = NOW + QUESTION_DAYS + timedelta(seconds=1)
    assert waiting_by_person(book, later) == {}
    with pytest.raises(NotWaiting):
        answer(book, question.question_id, now=later, same_person=SAME)
    assert expire(book, later) == QuestionBook()


def test_the_book_reads_back_as_written() -> None:
    book = QuestionBook()
    for n in range(QUESTIONS_PER_DAY + 1):
        book, _ = offer(book, [miss(x=n * 1.0, frame=frame(n))], household="home", now=NOW, same_person=SAME)
    import json

    again = QuestionBook.from_dict(json.loads(json.dumps(book.to_dict())))
    assert again == book


def test_a_question_names_its_face_and_old_alerts_have_none() -> None:
    _, placed = offer(QuestionBook(), [miss(face=1)], household="home", now=NOW, same_person=SAME)
    assert placed[1].verdict_id == "home/door/20261206/120000000000-abcdefabcdef#1"
    old = Alert.parse(
        {
            "alert_id": "a",
            "household": "home",
            "camera": "door",
            "bucket": "b",
            "frame_key": FRAME,
            "captured_at": NOW.isoformat(),
            "faces": [],
            "faces_in_frame": 1,
        }
    )
    assert old.question is None
    with_question = old.model_copy(update={"question": placed[1]})
    assert Alert.parse(with_question.model_dump_json()).question == placed[1]
