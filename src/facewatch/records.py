"""The records that cross process boundaries: a verdict on each face, the result written
next to each frame, and the alert recognize hands to notify. Pydantic models, so a
malformed payload from the wire is a clear BadInput rather than a KeyError deep inside."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from facewatch.exceptions import BadInput
from facewatch.frames import Box

Verdict = Literal["known", "stranger", "unsure"]


class FaceState(StrEnum):
    """Where a face stands in recognize's judgement: what code branches on. The verdict's
    `reason` says the same for people, and rewording it changes nothing."""

    PENDING = "pending"
    """Found (an edge box HOG fitted, or a search of the frame): to be judged."""
    KNOWN_ONLY = "known-only"
    """Found by a CNN only, where HOG does not find it: to be judged, and it may be named
    but not called a stranger (recognition.KNOWN_ONLY)."""
    NOT_A_FACE = "not-a-face"
    """An edge box HOG did not confirm as a face: nothing there to encode or judge again."""
    CANNOT_DECIDE = "cannot-decide"
    """The household's known set could not be read: neither known nor a stranger, and
    somebody must fix the cause (an operator alert)."""
    JUDGED = "judged"
    """Judged (known, a stranger, or unsure: too small or blurred, or not called a
    stranger): `verdict` says how."""


class FaceVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    box: Box
    verdict: Verdict
    state: FaceState
    """What code branches on; `reason` is for people."""
    name: str | None = None
    distance: float | None = None
    reason: str = ""
    track_id: int | None = None
    visit_id: str | None = None
    alert: str | None = None
    """For a stranger: whether this sighting alerted, and if not, why not."""
    verdict_id: str | None = None
    """Stable id of this judged face (frame id + face index), for `facewatch not`."""
    stranger_id: str | None = None
    """For a stranger: the remembered stranger this face is (strangers.py)."""
    looked_again: dict[str, Any] | None = None
    """Set when look_again.py judged this face again after an enrollment and changed it:
    `{"at": ..., "was": {"verdict", "stranger_id", "distance"}}`, so history shows what the
    verdict was when the frame was judged (and alerted, or not)."""

    @model_validator(mode="before")
    @classmethod
    def _state_of_older_records(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "state" not in data:
            return {**data, "state": face_state(data)}
        return data


def face_state(face: Mapping[str, Any]) -> FaceState:
    """A face's state, as stored: results, alerts in flight and dead letters written before
    verdicts had a `state` (they are in households' buckets) have only the `reason`, whose
    wording then said the state. This is the one place that reads it; nothing else may
    steer by a reason's text."""
    state = face.get("state")
    if state is not None:
        return FaceState(state)
    reason = str(face.get("reason") or "")
    if reason == "pending":
        return FaceState.PENDING
    if reason == "pending: known only":
        return FaceState.KNOWN_ONLY
    if reason.startswith("edge box not confirmed"):
        return FaceState.NOT_A_FACE
    if reason.startswith("cannot decide"):
        return FaceState.CANNOT_DECIDE
    return FaceState.JUDGED


class FrameResult(BaseModel):
    household: str
    camera: str
    frame_key: str
    captured_at: datetime
    processed_at: datetime
    boxes_from: Literal["edge", "detected"]
    faces: list[FaceVerdict]
    encodings_etag: str | None = None
    frame_etag: str | None = None
    """The version of the frame judged: a redelivery of it is a duplicate, a new version is not."""
    alert: str | None = None
    """What happened to the alert: None (no stranger), 'sent', or why it was not."""

    @property
    def strangers(self) -> list[FaceVerdict]:
        return [f for f in self.faces if f.verdict == "stranger"]


class Alert(BaseModel):
    """What notify needs to tell a household about a stranger at one of its cameras."""

    alert_id: str
    household: str
    camera: str
    bucket: str
    frame_key: str
    captured_at: datetime
    strangers: list[FaceVerdict]
    faces_in_frame: int
    visit_id: str | None = None
    visit_frames: int = 1
    first_seen: datetime | None = None
    stranger_id: str | None = None
    stranger_visits: int = 1
    """How many separate visits the household has seen this stranger make, this one included."""
    stranger_previous_seen: datetime | None = None
    """When this stranger was last seen before this visit (None: first seen)."""
    kind: Literal["stranger", "operator", "arrival"] = "stranger"
    """stranger: a stranger's visit; operator: a fault for whoever runs facewatch; arrival:
    a named person arrived, for households that ask for such notices."""
    problem: str | None = None
    """For an operator alert: what is wrong (e.g. the known encodings cannot be read)."""

    @classmethod
    def parse(cls, payload: Any) -> Alert:
        try:
            if isinstance(payload, (bytes, str)):
                return cls.model_validate_json(payload)
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise BadInput(
                f"not an alert: {exc.error_count()} problem(s): {exc.errors()[0]['msg']} "
                f"at {'.'.join(map(str, exc.errors()[0]['loc']))}"
            ) from exc
