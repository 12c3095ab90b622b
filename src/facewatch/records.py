"""The records that cross process boundaries: a verdict on each face, the result written
next to each frame, the alert recognize hands to notify, and what became of it (notify's
answer, one entry per channel, and what recognize records of it beside the face). Pydantic models, so a
malformed payload from the wire is a clear BadInput rather than a KeyError deep inside."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from facewatch.exceptions import BadInput
from facewatch.frames import Box
from facewatch.layout import FrameKey

Verdict = Literal["known", "stranger", "unsure"]
AlertKind = Literal["stranger", "operator", "arrival"]


class DeliveryStatus(StrEnum):
    """What became of an alert. Code branches on this; people read the detail beside it."""

    SENT = "sent"
    ALREADY_SENT = "already sent"
    """An earlier delivery of the same alert sent it: not sent twice."""
    HELD_BACK = "suppressed"
    """A rule held it back (quiet hours on a channel; a visit already alerted; once per N
    hours; no alerts for this stranger)."""
    DEAD_LETTERED = "dead-lettered"
    """Not sent, kept in the bucket for `facewatch alerts retry`."""
    QUEUED = "queued"
    """Handed to Lambda's queue for notify (asynchronous invoke): its fate is not known here."""
    NOT_CONFIGURED = "not configured"
    """No notify to hand it to: logged, not sent."""


class HeldBackBy(StrEnum):
    """Which rule held an alert back, where code must tell one from another (the console's
    "disarmed" mark, HA's switch); the detail beside it is for people."""

    DISARMED = "disarmed"
    """The household's away switch is off: no stranger alerts (household/rules.py)."""
    DISARMED_VISIT = "disarmed_visit"
    """A later frame (or a replay) of a visit the away switch held back: one alert per
    visit, and this visit had none (recognize/visits.py)."""
    QUIET_HOURS = "quiet_hours"
    """A channel's quiet hours (household/rules.py, applied by notify)."""
    NO_ALERTS = "no_alerts"
    """The stranger is marked "no alerts" (household/rules.py)."""
    ONCE_PER_HOURS = "once_per_hours"
    """The stranger alerted less than N hours ago (household/rules.py)."""
    OPEN_VISIT = "open_visit"
    """The same visit, which alerted already: a later frame, a return within its
    cooldown, or a replay of a recorded sighting (recognize/visits.py)."""
    KNOWN_TRACK = "known_track"
    """The face is on an edge track of a known person: that person in a bad frame
    (recognize/visits.py)."""


class HeldBack(BaseModel):
    """A rule's answer when it holds an alert back: which rule (for code) and why (for
    people: `facewatch events`, the console)."""

    model_config = ConfigDict(frozen=True)

    by: HeldBackBy
    detail: str

    def __str__(self) -> str:
        return self.detail


class ChannelOutcome(BaseModel):
    """What became of an alert on one channel."""

    model_config = ConfigDict(frozen=True)

    channel: str | None
    """email, webhook, mqtt; None: the alert as a whole (it never reached a channel: its
    household's settings unreadable, a dead letter that could not be retried)."""
    status: DeliveryStatus
    detail: str = ""
    """For people: the delivery id, why it was held back, or what failed."""
    held_back_by: HeldBackBy | None = None
    """The rule that held it back on this channel (answers written before it: None)."""

    def said(self) -> str:
        if self.status is DeliveryStatus.HELD_BACK:
            return f"{self.channel} suppressed: {self.detail}"
        return f"{self.channel}: {self.detail}" if self.channel else self.detail


class Delivery(BaseModel):
    """What deliver() did with one alert, one entry per channel: notify's answer to
    recognize (JSON, `channels`) and `facewatch alerts retry`'s per letter."""

    model_config = ConfigDict(frozen=True)

    channels: list[ChannelOutcome] = []

    @property
    def status(self) -> DeliveryStatus:
        """The alert's as a whole: dead-lettered if any channel failed (it is kept for a
        retry), else sent if any channel sent it now, else held back, else already sent."""
        found = {c.status for c in self.channels}
        for status in (DeliveryStatus.DEAD_LETTERED, DeliveryStatus.SENT, DeliveryStatus.HELD_BACK):
            if status in found:
                return status
        return DeliveryStatus.ALREADY_SENT

    def of(self, status: DeliveryStatus) -> list[ChannelOutcome]:
        return [c for c in self.channels if c.status is status]

    def held_back(self) -> str:
        return "; ".join(c.said() for c in self.of(DeliveryStatus.HELD_BACK))

    @property
    def held_back_by(self) -> HeldBackBy | None:
        """The rule that held the alert back on its channels (the first one named)."""
        return next((c.held_back_by for c in self.of(DeliveryStatus.HELD_BACK) if c.held_back_by), None)

    def __str__(self) -> str:
        status = self.status
        if status is DeliveryStatus.DEAD_LETTERED:
            return f"dead-lettered: {'; '.join(c.said() for c in self.of(status))}"
        if status is DeliveryStatus.SENT:
            sent = [f"{c.channel} {c.detail}" for c in self.of(status)]
            quiet = [c.said() for c in self.of(DeliveryStatus.HELD_BACK)]
            return f"sent {', '.join(sent + quiet)}"
        if status is DeliveryStatus.HELD_BACK:
            return f"suppressed: {self.held_back()}"
        return "already sent"


class AlertOutcome(BaseModel):
    """What became of a face's alert (FaceVerdict.alert, FrameResult.alert): held back by
    recognize's rules, or handed over to notify and what notify answered."""

    model_config = ConfigDict(frozen=True)

    status: DeliveryStatus
    detail: str = ""
    """For people: why it was held back, or which channels notify held back."""
    kind: AlertKind = "stranger"
    held_back_by: HeldBackBy | None = None
    """The rule that held it back, where one is named (results written before it: None)."""

    @property
    def alerted(self) -> bool:
        """A stranger alert that went out (the console's "alerted")."""
        return self.kind == "stranger" and self.status is DeliveryStatus.SENT

    def __str__(self) -> str:
        if not self.detail:
            text = self.status.value
        elif self.status is DeliveryStatus.SENT:
            text = f"sent ({self.detail})"
        else:
            text = f"{self.status.value}: {self.detail}"
        return text if self.kind == "stranger" else f"{self.kind} {text}"

    @classmethod
    def read(cls, raw: Any) -> AlertOutcome | None:
        """A stored result's alert, as written by any version (the raw JSON value)."""
        return None if not raw else cls.model_validate(raw)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """Results written before this record held the outcome as its text ('sent',
        'sent (email suppressed: …)', 'suppressed: …', 'arrival sent', 'operator queued'…):
        the one place that reads it back."""
        if not isinstance(data, str):
            return data
        text, kind = data, "stranger"
        for prefix in ("arrival ", "operator "):
            if text.startswith(prefix):
                text, kind = text.removeprefix(prefix), prefix.strip()
        for status in sorted(DeliveryStatus, key=lambda s: -len(s.value)):
            rest = text.removeprefix(status.value)
            if rest == text or rest[:1] not in ("", ":", " "):
                continue
            detail = rest.removeprefix(":").strip()
            if status is DeliveryStatus.SENT and detail.startswith("(") and detail.endswith(")"):
                detail = detail[1:-1]
            return {"status": status, "detail": detail, "kind": kind}
        raise ValueError(f"not an alert outcome: {data!r}")


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
    """The distance to `nearest`, for a named face and a stranger alike."""
    nearest: str | None = None
    """The known person this face came nearest to, whatever its verdict (None where it was
    not compared: unsure before encoding, no known set, or a result written before)."""
    reason: str = ""
    track_id: int | None = None
    visit_id: str | None = None
    alert: AlertOutcome | None = None
    """For a stranger: whether this sighting alerted, and if not, why not (for a known
    person: the arrival notice, if the household asked for one)."""
    verdict_id: str | None = None
    """Stable id of this judged face (frame id + face index), for `facewatch not`."""
    stranger_id: str | None = None
    """For a stranger: the remembered stranger this face is (strangers.py)."""
    sharpness: float | None = None
    """How sharp the face is (variance of the Laplacian at a fixed scale): the console picks
    a visit's best face by it and the face's size. None in results written before it."""
    yaw_degrees: float | None = None
    """How far the face is turned, 0 frontal (faces/pose.py), where it was encoded: its track's
    running encoding weighs it by it. None where not encoded, and in results written before it."""
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
    alert: AlertOutcome | None = None
    """What happened to the frame's alert: None (no stranger), or its outcome."""

    @property
    def strangers(self) -> list[FaceVerdict]:
        return [f for f in self.faces if f.verdict == "stranger"]


class Question(BaseModel):
    """A question to the household, "Is this X?", about one camera face that came near X
    without being named X (recognize/questions.py). Nothing is learned until it is answered."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    household: str
    person: str
    """X: the known person the face came nearest to."""
    frame_key: str
    face: int
    """The face's index in the frame's result."""
    distance: float
    """The face's distance to X's nearest photo."""
    asked_at: datetime

    @property
    def verdict_id(self) -> str:
        return FrameKey.parse(self.frame_key).verdict_id(self.face)


class Alert(BaseModel):
    """What notify needs to tell a household about a stranger at one of its cameras."""

    alert_id: str
    household: str
    camera: str
    bucket: str
    frame_key: str
    captured_at: datetime
    faces: list[FaceVerdict]
    """The faces this alert is about: the stranger, or the known person arriving; none for
    an operator alert. Called `strangers` before arrivals were announced: alerts in flight
    and dead letters in buckets still carry that key, and are read by it (_old_keys)."""
    faces_in_frame: int
    visit_id: str | None = None
    visit_frames: int = 1
    first_seen: datetime | None = None
    stranger_id: str | None = None
    stranger_visits: int = 1
    """How many separate visits the household has seen this stranger make, this one included."""
    stranger_previous_seen: datetime | None = None
    """When this stranger was last seen before this visit (None: first seen)."""
    kind: AlertKind = "stranger"
    """stranger: a stranger's visit; operator: a fault for whoever runs facewatch; arrival:
    a named person arrived, for households that ask for such notices."""
    problem: str | None = None
    """For an operator alert: what is wrong (e.g. the known encodings cannot be read)."""
    question: Question | None = None
    """Where the alerted face is a question "Is this X?": the email and the MQTT message
    ask it (alerts written before it: None)."""

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "strangers" in data and "faces" not in data:
            data = {("faces" if k == "strangers" else k): v for k, v in data.items()}
        return data

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
