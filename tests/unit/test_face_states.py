"""A verdict's state is what code branches on; results, alerts in flight and dead letters
written before verdicts had one (in households' buckets today) are read with the state
their reason then said."""

from __future__ import annotations

import json

import pytest

from facewatch.exceptions import BadInput
from facewatch.recognize.look_again import _due
from facewatch.records import Alert, FaceState, FaceVerdict, FrameResult

BOX = {"x": 10, "y": 20, "w": 90, "h": 90}

OLDER_RESULT = {
    "household": "home",
    "camera": "door",
    "frame_key": "households/home/frames/door/20261125/101500000000-ab.jpg",
    "captured_at": "2026-11-25T10:15:00Z",
    "processed_at": "2026-11-25T10:15:01Z",
    "boxes_from": "edge",
    "faces": [
        {
            "box": BOX,
            "verdict": "known",
            "name": "obama",
            "distance": 0.31,
            "reason": "obama at 0.310 <= 0.600",
        },
        {"box": BOX, "verdict": "stranger", "distance": 0.71, "reason": "nearest obama at 0.710 > 0.600"},
        {"box": BOX, "verdict": "unsure", "reason": "edge box not confirmed as a face"},
        {"box": BOX, "verdict": "unsure", "reason": "face 30px is below 40px"},
        {
            "box": BOX,
            "verdict": "unsure",
            "reason": "cannot decide: known encodings unavailable (households/home/known.npz: corrupt)",
        },
        {"box": BOX, "verdict": "unsure", "reason": "pending: known only"},
        {"box": BOX, "verdict": "unsure", "reason": "pending"},
    ],
    "alert": "sent",
}


def test_an_older_result_is_read_with_the_states_its_reasons_said() -> None:
    result = FrameResult.model_validate_json(json.dumps(OLDER_RESULT))
    assert [f.state for f in result.faces] == [
        FaceState.JUDGED,
        FaceState.JUDGED,
        FaceState.NOT_A_FACE,
        FaceState.JUDGED,
        FaceState.CANNOT_DECIDE,
        FaceState.KNOWN_ONLY,
        FaceState.PENDING,
    ]
    again = FrameResult.model_validate_json(result.model_dump_json())
    assert again == result  # written with its state from now on
    assert json.loads(result.model_dump_json())["faces"][2]["state"] == "not-a-face"


def test_a_stored_state_is_what_counts_not_the_reasons_wording() -> None:
    face = FaceVerdict.model_validate(
        {"box": BOX, "verdict": "unsure", "state": "cannot-decide", "reason": "the known set is away"}
    )
    assert face.state is FaceState.CANNOT_DECIDE
    reworded = FaceVerdict.model_validate(
        {"box": BOX, "verdict": "unsure", "state": "judged", "reason": "cannot decide: a new wording"}
    )
    assert reworded.state is FaceState.JUDGED


def test_an_older_alert_in_flight_is_read_and_an_unknown_state_refused() -> None:
    older = {
        "alert_id": "a1",
        "household": "home",
        "camera": "door",
        "bucket": "b",
        "frame_key": OLDER_RESULT["frame_key"],
        "captured_at": "2026-11-25T10:15:00Z",
        "strangers": [OLDER_RESULT["faces"][1]],
        "faces_in_frame": 1,
    }
    assert Alert.parse(json.dumps(older)).faces[0].state is FaceState.JUDGED
    newer = {**older, "strangers": [{**OLDER_RESULT["faces"][1], "state": "confused"}]}
    with pytest.raises(BadInput, match=r"not an alert.*state"):
        Alert.parse(newer)


def test_look_again_passes_over_what_is_not_a_face_in_older_and_newer_results() -> None:
    older = OLDER_RESULT["faces"]
    assert [_due(f) for f in older] == [False, True, False, True, True, True, True]
    newer = [FaceVerdict.model_validate(f).model_dump(mode="json") for f in older]
    assert [_due(f) for f in newer] == [False, True, False, True, True, True, True]
    assert _due({**older[1], "state": "confused"}) is False  # not ours to rewrite
