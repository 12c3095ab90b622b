"""Pure decisions about stranger visits: is this unknown face someone we are already
telling the household about, and does this sighting deserve an alert?

A visit is one unknown person's presence at a household's cameras. A sighting joins a
visit when it continues one of the visit's edge tracks (same camera, same track id, and a
face not clearly someone else's: within `track_break`) or when its face encoding is
within `same_person` of one of the visit's representative encodings. A visit stays open
while it is seen at least every `window` seconds; it alerts once. The same person seen
again after the visit closed but within `cooldown` of its alert rejoins it silently;
after the cooldown they are a new visit and a new alert. A visit the away switch held back
(disarmed when it began) never alerts, and its later frames say so.
A visit is forgotten once neither its window nor its cooldown keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from math import inf
from typing import Any

import numpy as np

from facewatch.recognize.decisions import Judgement, judge_visit
from facewatch.recognize.track_evidence import Answer, Judge, TrackEvidence, TrackFace, record_evidence
from facewatch.records import HeldBack, HeldBackBy

MAX_REPRESENTATIVES = 5
MAX_FRAME_KEYS = 50


@dataclass(frozen=True, slots=True)
class VisitPolicy:
    window: timedelta = timedelta(minutes=5)
    cooldown: timedelta = timedelta(minutes=30)
    same_person: float = 0.55
    """Stricter than the known-person threshold: merging two strangers would hide one."""
    track_break: float = 0.7
    """An edge track continues a visit only while its face is within this of the visit's
    faces. Looser than `same_person` (a head turning on its own track drifts), but past
    where one person's photos lie (dlib: 0.43 ± 0.08) and where most pairs of different
    people do (0.82 ± 0.09): a tracker that jumped from one passer-by to the next must not
    hide the second one's alert."""


MAX_TRACK_VOTES = 15


def track_key(camera: str, track_id: int) -> str:
    """An edge track's name in the household: track ids are per camera."""
    return f"{camera}:{track_id}"


@dataclass(frozen=True, slots=True)
class Vote:
    """One judged face of an edge track: who it was (None: a stranger) and how near."""

    track_key: str
    face_key: str
    """The frame's key and the face's index: a replayed frame votes once."""
    seen_at: datetime
    name: str | None
    distance: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "track": self.track_key,
            "face": self.face_key,
            "seen_at": self.seen_at.isoformat(),
            "name": self.name,
            "distance": self.distance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vote:
        distance = data.get("distance")
        return cls(
            str(data["track"]),
            str(data["face"]),
            datetime.fromisoformat(data["seen_at"]),
            data.get("name"),
            None if distance is None else float(distance),
        )


def record_votes(
    votes: Sequence[Vote], new: Sequence[Vote], now: datetime, policy: VisitPolicy
) -> list[Vote]:
    """The votes kept: the new ones added (once per face), those older than the visit window
    dropped, the last MAX_TRACK_VOTES of each track."""
    seen = {v.face_key for v in votes}
    recent = [
        v for v in (*votes, *(n for n in new if n.face_key not in seen)) if now - v.seen_at <= policy.window
    ]
    per_track: dict[str, list[Vote]] = {}
    for vote in sorted(recent, key=lambda v: v.seen_at):
        per_track.setdefault(vote.track_key, []).append(vote)
    return [v for track in per_track.values() for v in track[-MAX_TRACK_VOTES:]]


def track_identity(votes: Sequence[Vote], key: str) -> Judgement:
    """Who an edge track is, by the same visit rule as everywhere (`decisions.judge_visit`):
    the person named in most of its judged faces, else a stranger."""
    return judge_visit(
        [
            Judgement("known" if v.name else "stranger", v.name, v.distance, "")
            for v in votes
            if v.track_key == key
        ]
    )


@dataclass(frozen=True, slots=True)
class Sighting:
    frame_key: str
    camera: str
    seen_at: datetime
    encoding: np.ndarray
    track_id: int | None = None
    known_distances: Mapping[str, float] = field(default_factory=dict)
    """The face's distance to each known person: a known person's track claims the face
    only if it is not clearly someone else (`track_break`)."""
    face_index: int | None = None
    """The face's index in its frame: finds what its track's evidence answered for it."""

    @property
    def track_key(self) -> str | None:
        return None if self.track_id is None else track_key(self.camera, self.track_id)

    @property
    def face_key(self) -> str | None:
        return None if self.face_index is None else f"{self.frame_key}#{self.face_index}"


@dataclass(frozen=True, slots=True)
class Visit:
    visit_id: str
    first_seen: datetime
    last_seen: datetime
    frames: int
    representatives: tuple[tuple[float, ...], ...]
    tracks: tuple[str, ...] = ()
    frame_keys: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    alert_id: str | None = None
    alerted_at: datetime | None = None
    held_back: HeldBack | None = None
    """Why the visit's alert was held back when it began (the away switch), else None:
    its later frames say so rather than "already alerted"."""

    def is_open(self, now: datetime, policy: VisitPolicy) -> bool:
        return now - self.last_seen <= policy.window

    def is_kept(self, now: datetime, policy: VisitPolicy) -> bool:
        in_cooldown = self.alerted_at is not None and now - self.alerted_at < policy.cooldown
        return self.is_open(now, policy) or in_cooldown

    def distance(self, encoding: np.ndarray) -> float:
        if not self.representatives:
            return float("inf")
        reps = np.array(self.representatives, dtype=np.float64)
        return float(np.linalg.norm(reps - encoding, axis=1).min())

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "frames": self.frames,
            "representatives": [list(r) for r in self.representatives],
            "tracks": list(self.tracks),
            "frame_keys": list(self.frame_keys),
            "cameras": list(self.cameras),
            "alert_id": self.alert_id,
            "alerted_at": self.alerted_at.isoformat() if self.alerted_at else None,
            "held_back": self.held_back.model_dump(mode="json") if self.held_back else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Visit:
        return cls(
            visit_id=str(data["visit_id"]),
            first_seen=datetime.fromisoformat(data["first_seen"]),
            last_seen=datetime.fromisoformat(data["last_seen"]),
            frames=int(data["frames"]),
            representatives=tuple(tuple(float(x) for x in r) for r in data["representatives"]),
            tracks=tuple(data.get("tracks", ())),
            frame_keys=tuple(data.get("frame_keys", ())),
            cameras=tuple(data.get("cameras", ())),
            alert_id=data.get("alert_id"),
            alerted_at=datetime.fromisoformat(data["alerted_at"]) if data.get("alerted_at") else None,
            held_back=HeldBack.model_validate(data["held_back"]) if data.get("held_back") else None,
        )


@dataclass(frozen=True, slots=True)
class Assignment:
    """What happened to one sighting (no visit: its track is a known person's)."""

    visit: Visit | None
    alert: bool
    reason: str
    held_back_by: HeldBackBy | None = None
    """The rule that held the sighting's alert back (None when it alerts)."""

    @property
    def held_back(self) -> HeldBack | None:
        """The rule and the words, where the sighting does not alert."""
        if self.alert or self.held_back_by is None:
            return None
        return HeldBack(by=self.held_back_by, detail=self.reason)


def _later(visit: Visit, why: str, *, alerted: str = "") -> Assignment:
    """A sighting of a visit already begun: no alert, and why not (the visit alerted, or
    the rule that held its alert back did)."""
    if visit.held_back is None:
        return Assignment(visit, False, f"{why}{alerted}", HeldBackBy.OPEN_VISIT)
    return Assignment(visit, False, f"{why}, held back: {visit.held_back.detail}", HeldBackBy.DISARMED_VISIT)


def find_visit(sighting: Sighting, visits: list[Visit], now: datetime, policy: VisitPolicy) -> Visit | None:
    kept = [v for v in visits if v.is_kept(now, policy)]
    if sighting.track_key is not None:
        for visit in kept:
            if (
                sighting.track_key in visit.tracks
                and visit.is_open(now, policy)
                and visit.distance(sighting.encoding) <= policy.track_break
            ):
                return visit
    scored = [(v.distance(sighting.encoding), v) for v in kept]
    scored = [(d, v) for d, v in scored if d <= policy.same_person]
    return min(scored, key=lambda item: item[0])[1] if scored else None


def _with_sighting(visit: Visit, sighting: Sighting) -> Visit:
    reps = visit.representatives
    if len(reps) < MAX_REPRESENTATIVES and visit.distance(sighting.encoding) > 0.25:
        # Keep encodings that add something (another pose, another camera), not copies.
        reps = (*reps, tuple(float(x) for x in sighting.encoding))
    tracks = visit.tracks
    if sighting.track_key is not None and sighting.track_key not in tracks:
        tracks = (*tracks, sighting.track_key)[-20:]
    cameras = visit.cameras if sighting.camera in visit.cameras else (*visit.cameras, sighting.camera)
    return replace(
        visit,
        last_seen=max(visit.last_seen, sighting.seen_at),
        frames=visit.frames + 1,
        representatives=reps,
        tracks=tracks,
        frame_keys=(*visit.frame_keys, sighting.frame_key)[-MAX_FRAME_KEYS:],
        cameras=cameras,
    )


def assign(
    sighting: Sighting,
    visits: list[Visit],
    *,
    now: datetime,
    policy: VisitPolicy,
    new_visit_id: str,
    alert_id: str,
    away: HeldBack | None = None,
) -> tuple[list[Visit], Assignment]:
    """Place one stranger sighting; returns the new visit list (expired visits dropped) and
    what happened. Replaying a sighting already recorded changes nothing and repeats the
    original answer, so a redelivered frame can neither double-count nor double-alert.
    `away`: the away switch's answer (household/rules.py), which holds a new visit back."""
    kept = [v for v in visits if v.is_kept(now, policy)]
    for visit in kept:
        if sighting.frame_key in visit.frame_keys and visit.distance(sighting.encoding) <= policy.same_person:
            if visit.alert_id != alert_id:
                return kept, _later(visit, "replay of a recorded sighting")
            if visit.held_back is not None:
                return kept, Assignment(visit, False, visit.held_back.detail, visit.held_back.by)
            return kept, Assignment(visit, True, "replay of a recorded sighting")
    found = find_visit(sighting, kept, now, policy)
    if found is None:
        visit = Visit(
            visit_id=new_visit_id,
            first_seen=sighting.seen_at,
            last_seen=sighting.seen_at,
            frames=1,
            representatives=(tuple(float(x) for x in sighting.encoding),),
            tracks=(sighting.track_key,) if sighting.track_key else (),
            frame_keys=(sighting.frame_key,),
            cameras=(sighting.camera,),
            alert_id=alert_id,
            alerted_at=now,
            held_back=away,
        )
        if away is not None:
            return [*kept, visit], Assignment(visit, False, away.detail, away.by)
        return [*kept, visit], Assignment(visit, True, "new visit")
    updated = _with_sighting(found, sighting)
    others = [v for v in kept if v.visit_id != found.visit_id]
    if found.is_open(now, policy):
        why = f"same visit as {found.visit_id} (frame {updated.frames})"
        later = _later(updated, why, alerted=", already alerted")
    else:
        later = _later(updated, f"seen again within the cooldown of visit {found.visit_id}")
    return [*others, updated], later


@dataclass
class VisitBook:
    """A household's visits, as stored (one object, replaced with a conditional write)."""

    visits: list[Visit] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)
    """Recent judged faces of edge tracks, known people's included."""
    tracks: list[TrackEvidence] = field(default_factory=list)
    """Recent edge tracks' running encodings (track_evidence.py); none in books written before."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "visits": [v.to_dict() for v in self.visits],
            "votes": [v.to_dict() for v in self.votes],
            "tracks": [t.to_dict() for t in self.tracks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisitBook:
        return cls(
            [Visit.from_dict(v) for v in data.get("visits", [])],
            [Vote.from_dict(v) for v in data.get("votes", [])],
            [TrackEvidence.from_dict(t) for t in data.get("tracks", [])],
        )

    def answer(self, track: str, face_key: str) -> Answer | None:
        """What the track's evidence said of this face when it was counted (None: not counted)."""
        for evidence in self.tracks:
            if evidence.track_key == track:
                return evidence.answer(face_key)
        return None


def place(
    book: VisitBook,
    sightings: Sequence[tuple[Sighting, str, str]],
    votes: Sequence[Vote],
    *,
    now: datetime,
    policy: VisitPolicy,
    away: HeldBack | None = None,
    faces: Sequence[TrackFace] = (),
    judge: Judge | None = None,
) -> tuple[VisitBook, list[Assignment]]:
    """Record a frame's track votes and its tracked faces in their tracks' running
    encodings (judged by `judge`, `track_evidence.record_evidence`), then place each
    (stranger sighting, new visit id, alert id). A stranger face on a track that is someone
    known, and not clearly someone else (within `track_break` of that person), is that
    person in a bad frame (turned away, blurred), not a new stranger: no visit, no alert.
    Who a track is: what its evidence answered for this face (the running encoding from the
    track's second face, the votes for its first), else most of its votes. The others as
    `assign` says, `away` included."""
    kept = record_votes(book.votes, votes, now, policy)
    tracks, answers = record_evidence(
        book.tracks,
        faces,
        now=now,
        window=policy.window,
        judge=judge,
        first_faces=lambda key: track_identity(kept, key),
    )
    visits, results = book.visits, []
    for sighting, visit_id, alert_id in sightings:
        if sighting.track_key is not None:
            answer = answers.get(sighting.face_key or "")
            who = answer.judgement() if answer is not None else track_identity(kept, sighting.track_key)
            near = who.name is not None and sighting.known_distances.get(who.name, inf) <= policy.track_break
            if who.verdict == "known" and near:
                why = f"its edge track is {who.name} ({who.reason})"
                results.append(Assignment(None, False, why, HeldBackBy.KNOWN_TRACK))
                continue
        visits, result = assign(
            sighting, visits, now=now, policy=policy, new_visit_id=visit_id, alert_id=alert_id, away=away
        )
        results.append(result)
    return VisitBook(visits, kept, tracks), results
