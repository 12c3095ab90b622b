"""The per-visit figures of `facewatch eval --videos`, from a clip's judged frames and alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from facewatch.frames import Box
from facewatch.local.video_evaluation import STRANGER, score_clip
from facewatch.records import FaceState, FaceVerdict, FrameResult

AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def frame(*faces: tuple[str, str | None]) -> FrameResult:
    return FrameResult(
        household="h",
        camera="c",
        frame_key="k",
        captured_at=AT,
        processed_at=AT,
        boxes_from="edge",
        faces=[
            FaceVerdict(box=Box(0, 0, 10, 10), verdict=verdict, state=FaceState.JUDGED, name=name)
            for verdict, name in faces
        ],
    )


def test_a_known_visit_named_as_its_label_without_alarm():
    figures = score_clip("obama", [frame(("known", "obama")), frame(("unsure", None))], stranger_alerts=0)
    assert figures == {
        "known_visits": 1,
        "known_visits_named": 1,
        "known_visits_alerted": 0,
        "stranger_visits": 0,
        "stranger_visits_alerted_once": 0,
        "stranger_visits_named": 0,
        "faces_unsure": 1,
    }


def test_a_known_visit_also_named_as_someone_else_is_not_named_and_an_alert_is_a_false_alarm():
    results = [frame(("known", "obama")), frame(("known", "biden")), frame(("stranger", None))]
    figures = score_clip("obama", results, stranger_alerts=1)
    assert (figures["known_visits_named"], figures["known_visits_alerted"]) == (0, 1)


def test_a_known_visit_with_no_face_named_is_not_named():
    assert score_clip("obama", [frame(("unsure", None))], stranger_alerts=0)["known_visits_named"] == 0


def test_a_stranger_visit_alerts_once_or_not():
    once = score_clip(STRANGER, [frame(("stranger", None)), frame(("stranger", None))], stranger_alerts=1)
    assert (once["stranger_visits"], once["stranger_visits_alerted_once"], once["stranger_visits_named"]) == (
        1,
        1,
        0,
    )
    assert score_clip(STRANGER, [], stranger_alerts=0)["stranger_visits_alerted_once"] == 0
    assert score_clip(STRANGER, [], stranger_alerts=2)["stranger_visits_alerted_once"] == 0


def test_a_stranger_visit_with_any_face_named_is_a_missed_alarm():
    results = [frame(("stranger", None)), frame(("known", "biden"), ("stranger", None))]
    figures = score_clip(STRANGER, results, stranger_alerts=1)
    assert (figures["stranger_visits_alerted_once"], figures["stranger_visits_named"]) == (1, 1)
    assert figures["known_visits"] == 0
