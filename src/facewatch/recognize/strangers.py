"""Pure decisions about stranger memory: is this unknown face someone the household has
seen before, and what do we keep of them?

A stranger is an unknown person remembered across visits (`stranger-…`). A sighting joins
the stranger its visit already belongs to (visits.py took it for the same person, by edge
track or encoding) if it is also within the known-person threshold of that stranger (a
track can jump to another passer-by); otherwise it is judged against every stranger's
representative encodings by the very code that judges known people (decisions.judge_face,
on a Gallery built from the strangers), with the stricter same-person threshold: merging
two strangers would hide one. No match starts a new stranger. A stranger keeps a few representative
encodings, each with a face crop stored beside it, and its recent sightings; one not seen
for `memory` is forgotten, crops and all."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from facewatch.faces.gallery import GALLERY_FORMAT, Gallery
from facewatch.layout import stranger_crop_key
from facewatch.recognize.decisions import MatchPolicy, judge_face

MAX_REPRESENTATIVES = 5
MAX_STRANGERS = 400
"""The memory is one object rewritten on every stranger frame (compare-and-swap is the only
coordination), about 6 KB a stranger: a street-facing door meeting 30 new faces a day
would otherwise carry a month of them (tens of MB) through every frame. Past this many,
the least recently seen are forgotten first."""
MAX_RECENT = 20
MAX_VISIT_IDS = 20
NEW_POSE = 0.25
"""A sighting this far from every representative adds something (another pose, another
camera) and becomes one, while there is room."""


@dataclass(frozen=True, slots=True)
class StrangerSighting:
    """One face of one frame, as remembered (enough to find the frame and the face again)."""

    verdict_id: str
    frame_key: str
    camera: str
    seen_at: datetime
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict_id": self.verdict_id,
            "frame_key": self.frame_key,
            "camera": self.camera,
            "seen_at": self.seen_at.isoformat(),
            "box": list(self.box),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrangerSighting:
        x, y, w, h = (int(v) for v in data["box"])
        return cls(
            verdict_id=str(data["verdict_id"]),
            frame_key=str(data["frame_key"]),
            camera=str(data["camera"]),
            seen_at=datetime.fromisoformat(data["seen_at"]),
            box=(x, y, w, h),
        )


@dataclass(frozen=True, slots=True)
class Representative:
    encoding: tuple[float, ...]
    crop_key: str
    format: int | None = GALLERY_FORMAT
    """How the encoding was made (encodings.GALLERY_FORMAT; None: by a facewatch that did
    not record it). Another format's encoding is not comparable: strangerstore encodes the
    crop again before matching."""


@dataclass(frozen=True, slots=True)
class Stranger:
    stranger_id: str
    first_seen: datetime
    last_seen: datetime
    sightings: int
    """Faces judged to be this stranger, over all visits."""
    visits: int
    """Separate visits: how many times the household has seen this person."""
    previous_seen: datetime | None
    """When they were last seen before the current visit began."""
    representatives: tuple[Representative, ...]
    recent: tuple[StrangerSighting, ...] = ()
    visit_ids: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    alerted_at: datetime | None = None
    """When this stranger's last alert went out, for "at most once per N hours"."""
    alerted_visit: str | None = None
    """The visit that alert was for: a redelivered frame of it alerts again."""

    def is_expired(self, now: datetime, memory: timedelta) -> bool:
        return now - self.last_seen > memory

    @property
    def crop_keys(self) -> list[str]:
        return [r.crop_key for r in self.representatives]

    def distance(self, encoding: np.ndarray) -> float:
        reps = np.array([r.encoding for r in self.representatives], dtype=np.float64).reshape(-1, 128)
        return float(np.linalg.norm(reps - encoding, axis=1).min()) if len(reps) else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "stranger_id": self.stranger_id,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "sightings": self.sightings,
            "visits": self.visits,
            "previous_seen": self.previous_seen.isoformat() if self.previous_seen else None,
            "representatives": [
                {"encoding": list(r.encoding), "crop_key": r.crop_key, "format": r.format}
                for r in self.representatives
            ],
            "recent": [s.to_dict() for s in self.recent],
            "visit_ids": list(self.visit_ids),
            "cameras": list(self.cameras),
            **(
                {"alerted_at": self.alerted_at.isoformat(), "alerted_visit": self.alerted_visit}
                if self.alerted_at
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stranger:
        previous = data.get("previous_seen")
        return cls(
            stranger_id=str(data["stranger_id"]),
            first_seen=datetime.fromisoformat(data["first_seen"]),
            last_seen=datetime.fromisoformat(data["last_seen"]),
            sightings=int(data["sightings"]),
            visits=int(data["visits"]),
            previous_seen=datetime.fromisoformat(previous) if previous else None,
            representatives=tuple(
                Representative(
                    tuple(float(x) for x in r["encoding"]),
                    str(r["crop_key"]),
                    int(r["format"]) if r.get("format") is not None else None,
                )
                for r in data["representatives"]
            ),
            recent=tuple(StrangerSighting.from_dict(s) for s in data.get("recent", ())),
            visit_ids=tuple(str(v) for v in data.get("visit_ids", ())),
            cameras=tuple(str(c) for c in data.get("cameras", ())),
            alerted_at=datetime.fromisoformat(data["alerted_at"]) if data.get("alerted_at") else None,
            alerted_visit=str(data["alerted_visit"]) if data.get("alerted_visit") else None,
        )

    def summary(self) -> dict[str, Any]:
        """What `facewatch strangers` shows: no encodings."""
        return {
            "stranger_id": self.stranger_id,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "visits": self.visits,
            "sightings": self.sightings,
            "cameras": list(self.cameras),
            "crops": len(self.representatives),
        }


@dataclass(frozen=True, slots=True)
class NewSighting:
    """An unknown face to remember: where it was, its encoding, and the visit it joined."""

    household: str
    sighting: StrangerSighting
    encoding: np.ndarray
    visit_id: str | None
    face_px: int
    sharpness: float


@dataclass(frozen=True, slots=True)
class Recall:
    """What stranger memory says about one sighting."""

    stranger: Stranger
    reason: str
    crop_key: str | None = None
    """Where this sighting's face crop belongs, when it became a representative."""

    @property
    def first_time(self) -> bool:
        return self.stranger.visits == 1


def new_stranger_id(verdict_id: str) -> str:
    """Derived from the first sighting, so a replayed first sighting names the same stranger."""
    return f"stranger-{hashlib.sha256(verdict_id.encode()).hexdigest()[:10]}"


def strangers_gallery(strangers: list[Stranger]) -> Gallery:
    """The strangers as a Gallery (one row per representative), for decisions.judge_face."""
    rows = [(s.stranger_id, r) for s in strangers for r in s.representatives]
    return Gallery(
        names=[sid for sid, _ in rows],
        encodings=np.array([r.encoding for _, r in rows], dtype=np.float32).reshape(-1, 128),
        photo_keys=[r.crop_key for _, r in rows],
        photo_etags=["" for _ in rows],
    )


def match_stranger(new: NewSighting, strangers: list[Stranger], policy: MatchPolicy) -> Stranger | None:
    """The stranger this face is, by the known-person decision code, or None."""
    if not strangers:
        return None
    judgement = judge_face(
        new.encoding,
        face_px=new.face_px,
        sharpness=new.sharpness,
        gallery=strangers_gallery(strangers),
        policy=policy,
    )
    if judgement.verdict != "known":
        return None
    return next(s for s in strangers if s.stranger_id == judgement.name)


def expire(
    strangers: list[Stranger], now: datetime, memory: timedelta, limit: int = MAX_STRANGERS
) -> tuple[list[Stranger], list[Stranger]]:
    """(kept, forgotten): those unseen for `memory`, and beyond `limit` the least recently
    seen, are forgotten."""
    fresh = sorted(
        (s for s in strangers if not s.is_expired(now, memory)), key=lambda s: s.last_seen, reverse=True
    )
    kept = {s.stranger_id for s in fresh[:limit]}
    return [s for s in strangers if s.stranger_id in kept], [
        s for s in strangers if s.stranger_id not in kept
    ]


def encoding_row(encoding: np.ndarray) -> tuple[float, ...]:
    # Five decimals move a distance by under 1e-4 (the rule's margins are 0.05) and halve
    # the stored memory.
    return tuple(round(float(x), 5) for x in np.asarray(encoding, dtype=np.float64))


def _seen_again(stranger: Stranger, new: NewSighting) -> tuple[Stranger, str | None]:
    seen = new.sighting
    new_visit = new.visit_id is None or new.visit_id not in stranger.visit_ids
    reps = stranger.representatives
    crop_key = None
    if len(reps) < MAX_REPRESENTATIVES and stranger.distance(new.encoding) > NEW_POSE:
        crop_key = stranger_crop_key(new.household, stranger.stranger_id, seen.verdict_id)
        reps = (*reps, Representative(encoding_row(new.encoding), crop_key))
    visit_ids = stranger.visit_ids
    if new.visit_id is not None and new_visit:
        visit_ids = (*visit_ids, new.visit_id)[-MAX_VISIT_IDS:]
    cameras = stranger.cameras if seen.camera in stranger.cameras else (*stranger.cameras, seen.camera)
    updated = replace(
        stranger,
        first_seen=min(stranger.first_seen, seen.seen_at),
        last_seen=max(stranger.last_seen, seen.seen_at),
        sightings=stranger.sightings + 1,
        visits=stranger.visits + 1 if new_visit else stranger.visits,
        previous_seen=stranger.last_seen if new_visit else stranger.previous_seen,
        representatives=reps,
        recent=(*stranger.recent, seen)[-MAX_RECENT:],
        visit_ids=visit_ids,
        cameras=cameras,
    )
    return updated, crop_key


def remember(
    new: NewSighting,
    strangers: list[Stranger],
    *,
    now: datetime,
    policy: MatchPolicy,
    memory: timedelta,
    same_visit_limit: float | None = None,
) -> tuple[list[Stranger], Recall]:
    """Place one unknown face among the household's strangers; returns the new list
    (forgotten strangers dropped) and what happened. A replayed sighting (same verdict id)
    changes nothing and gets the same answer, so a redelivered frame cannot count twice.

    The visit is evidence, not proof: an edge track can jump from one passer-by to another,
    and memory outlives the visit. So a face joins its visit's stranger only within
    `same_visit_limit` (default: the policy's threshold; recognize passes the looser
    known-person threshold) of that stranger's representatives."""
    kept, _ = expire(strangers, now, memory)
    seen = new.sighting
    for stranger in kept:
        if any(s.verdict_id == seen.verdict_id for s in stranger.recent):
            crop = stranger_crop_key(new.household, stranger.stranger_id, seen.verdict_id)
            return kept, Recall(
                stranger, "replay of a remembered sighting", crop if crop in stranger.crop_keys else None
            )
    limit = policy.threshold if same_visit_limit is None else same_visit_limit
    found = next(
        (
            s
            for s in kept
            if new.visit_id is not None and new.visit_id in s.visit_ids and s.distance(new.encoding) <= limit
        ),
        None,
    )
    reason = f"same visit {new.visit_id}"
    if found is None:
        found = match_stranger(new, kept, policy)
        reason = "seen before"
    if found is None:
        stranger_id = new_stranger_id(seen.verdict_id)
        crop_key = stranger_crop_key(new.household, stranger_id, seen.verdict_id)
        stranger = Stranger(
            stranger_id=stranger_id,
            first_seen=seen.seen_at,
            last_seen=seen.seen_at,
            sightings=1,
            visits=1,
            previous_seen=None,
            representatives=(Representative(encoding_row(new.encoding), crop_key),),
            recent=(seen,),
            visit_ids=(new.visit_id,) if new.visit_id else (),
            cameras=(seen.camera,),
        )
        return [*kept, stranger], Recall(stranger, "first seen", crop_key)
    updated, new_crop_key = _seen_again(found, new)
    others = [s for s in kept if s.stranger_id != found.stranger_id]
    return [*others, updated], Recall(updated, reason, new_crop_key)


def find_by_face(
    strangers: list[Stranger], frame_key: str, box: tuple[int, int, int, int]
) -> Stranger | None:
    """The stranger one of whose recent sightings is this face of this frame."""
    for stranger in strangers:
        if any(s.frame_key == frame_key and s.box == box for s in stranger.recent):
            return stranger
    return None


@dataclass
class StrangerBook:
    """A household's strangers, as stored (one object, replaced with a conditional write)."""

    strangers: list[Stranger] = field(default_factory=list)

    def get(self, stranger_id: str) -> Stranger | None:
        return next((s for s in self.strangers if s.stranger_id == stranger_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "strangers": [s.to_dict() for s in self.strangers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrangerBook:
        return cls([Stranger.from_dict(s) for s in data.get("strangers", [])])
