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
for `memory` is forgotten, crops and all.

People correct the memory by hand: two strangers who are one person are merged
(`merge_strangers`), a face wrongly taken for a stranger is split off into a stranger of its
own (`split_stranger`), so nothing seen is lost. Both say which crops must move, since a
stranger's crops live under its own id (layout.stranger_crops_prefix) and are deleted with
it; stranger_store.py does the moving."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from facewatch.exceptions import BadInput
from facewatch.faces.gallery import GALLERY_FORMAT, Gallery
from facewatch.layout import stranger_crop_key, stranger_crops_prefix
from facewatch.recognize.decisions import GalleryModel, MatchPolicy, build_model, judge_face

MAX_REPRESENTATIVES = 5
MAX_STRANGERS = 400
"""Past this many, the least recently seen are forgotten first: every stranger face is
judged against all of them (a gallery of up to 2,000 rows), and a street-facing door meeting
30 new faces a day would otherwise keep a month of them. Storage no longer bounds it (a
frame writes one shard, stranger_store.py), matching does."""
SHARDS = 32
"""The memory is stored in this many shards (by stranger id), so a frame rewrites the few
strangers of one shard, not all of them: at the cap, about 13 strangers a shard."""
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
    """How the encoding was made (gallery.GALLERY_FORMAT; None: by a facewatch that did
    not record it). Another format's encoding is not comparable: stranger_store encodes the
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


_GALLERIES_KEPT = 16
_galleries: OrderedDict[tuple[tuple[str, int], ...], tuple[list[tuple[Representative, ...]], Gallery]] = (
    OrderedDict()
)
_galleries_lock = threading.Lock()


def strangers_gallery(strangers: list[Stranger]) -> Gallery:
    """The strangers as a Gallery (one row per representative), for decisions.judge_face.

    Kept for the next frame: most stranger frames add no representative, and building the
    gallery (2,000 rows of floats) and its decision model (pairwise distances) would
    otherwise cost more than the rest of placing the face. Keyed by the identity of each
    stranger's representatives (a tuple never changed once made; the entry holds them, so
    no id is reused while it is kept)."""
    key = tuple((s.stranger_id, id(s.representatives)) for s in strangers)
    with _galleries_lock:
        kept = _galleries.get(key)
        if kept is not None:
            _galleries.move_to_end(key)
            return kept[1]
    rows = [(s.stranger_id, r) for s in strangers for r in s.representatives]
    gallery = Gallery(
        names=[sid for sid, _ in rows],
        encodings=np.array([r.encoding for _, r in rows], dtype=np.float32).reshape(-1, 128),
        photo_keys=[r.crop_key for _, r in rows],
        photo_etags=["" for _ in rows],
    )
    gallery.derived["decision_model"] = _stranger_model(gallery)
    with _galleries_lock:
        _galleries[key] = ([s.representatives for s in strangers], gallery)
        while len(_galleries) > _GALLERIES_KEPT:
            _galleries.popitem(last=False)
    return gallery


ESTIMATE_ROWS = 400
"""Rows of a stranger gallery its impostor distances are estimated from (evenly spaced):
a new stranger changes the gallery, and the pairwise distances of all 2,000 rows of a full
memory would cost more than placing the face. 400 rows give ~80,000 pairs, plenty for a
mean and a spread; the same rows in every process, so every instance decides alike."""


def _stranger_model(gallery: Gallery) -> GalleryModel:
    if len(gallery) <= ESTIMATE_ROWS:
        return build_model(gallery)
    keep = np.linspace(0, len(gallery) - 1, ESTIMATE_ROWS).astype(np.intp)
    sample = build_model(
        Gallery(
            names=[gallery.names[i] for i in keep],
            encodings=gallery.encodings[keep],
            photo_keys=[gallery.photo_keys[i] for i in keep],
            photo_etags=["" for _ in keep],
        )
    )
    people = tuple(gallery.people)
    index = {name: i for i, name in enumerate(people)}
    rows_of = np.array([index[n] for n in gallery.names], dtype=np.intp)
    return GalleryModel(people, rows_of, sample.impostor_mean, sample.impostor_sd, sample.measured)


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


# --- corrections by hand -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CropMove:
    """A crop that changes owner: copy `source` to `target`, then delete `source`; a
    target of None: no longer a representative, only delete it."""

    source: str
    target: str | None


def split_stranger_id(verdict_id: str) -> str:
    """The stranger a face split off becomes, derived from the face (so a retried split
    names the same one) but never the id of the stranger it was first seen as, which
    new_stranger_id derives from the very same verdict id."""
    return new_stranger_id(f"split:{verdict_id}")


def _moved_crop(household: str, crop_key: str, stranger_id: str) -> str:
    return f"{stranger_crops_prefix(household, stranger_id)}{crop_key.rsplit('/', 1)[-1]}"


def _rows(reps: tuple[Representative, ...]) -> np.ndarray:
    return np.array([r.encoding for r in reps], dtype=np.float64).reshape(-1, 128)


def _most_varied(
    kept: tuple[Representative, ...], candidates: list[Representative], limit: int
) -> tuple[tuple[Representative, ...], list[Representative]]:
    """`kept` plus, while there is room, the candidate farthest from everything kept so far
    (another pose, another camera is worth more than a near copy); and those left out."""
    out, rest = list(kept), list(candidates)
    while rest and len(out) < limit:
        chosen = _rows(tuple(out))
        gaps = [
            float(np.linalg.norm(chosen - np.asarray(r.encoding), axis=1).min()) if len(chosen) else np.inf
            for r in rest
        ]
        out.append(rest.pop(int(np.argmax(gaps))))
    return tuple(out), rest


def _latest_alert(a: Stranger, b: Stranger) -> tuple[datetime | None, str | None]:
    alerted = [s for s in (a, b) if s.alerted_at is not None]
    if not alerted:
        return None, None
    last = max(alerted, key=lambda s: s.alerted_at or datetime.min)
    return last.alerted_at, last.alerted_visit


def merge_strangers(household: str, keep: Stranger, other: Stranger) -> tuple[Stranger, list[CropMove]]:
    """`keep` and `other` are one person: one stranger under keep's id, with what both were
    seen doing (sightings and visits added up, a visit both were seen in counted once,
    first and last seen the widest, recent sightings and visit ids of both, newest kept),
    keep's representatives and then the most varied of other's while there is room.
    Returns it and the crop moves: each of other's representatives' crops moves under
    keep's id or, left out, is deleted, so no crop is left under an id nobody has."""
    if keep.stranger_id == other.stranger_id:
        raise BadInput(f"cannot merge {keep.stranger_id} with itself")
    own = set(keep.crop_keys)
    candidates = []
    moves = []
    for rep in other.representatives:
        target = _moved_crop(household, rep.crop_key, keep.stranger_id)
        if target in own:  # the same face kept by both: one copy is enough
            moves.append(CropMove(rep.crop_key, None))
            continue
        candidates.append(replace(rep, crop_key=target))
        moves.append(CropMove(rep.crop_key, target))
    reps, left_out = _most_varied(keep.representatives, candidates, MAX_REPRESENTATIVES)
    dropped = {r.crop_key for r in left_out}
    moves = [CropMove(m.source, None) if m.target in dropped else m for m in moves]

    seen = {s.verdict_id for s in keep.recent}
    recent = sorted(
        [*keep.recent, *(s for s in other.recent if s.verdict_id not in seen)], key=lambda s: s.seen_at
    )
    shared_visits = set(keep.visit_ids) & set(other.visit_ids)
    visit_ids = (*keep.visit_ids, *(v for v in other.visit_ids if v not in shared_visits))
    latest, earlier = (keep, other) if keep.last_seen >= other.last_seen else (other, keep)
    same_visit = bool(
        latest.visit_ids and earlier.visit_ids and latest.visit_ids[-1] == earlier.visit_ids[-1]
    )
    before = [latest.previous_seen, earlier.previous_seen if same_visit else earlier.last_seen]
    alerted_at, alerted_visit = _latest_alert(keep, other)
    merged = replace(
        keep,
        first_seen=min(keep.first_seen, other.first_seen),
        last_seen=latest.last_seen,
        sightings=keep.sightings + other.sightings,
        visits=max(1, keep.visits + other.visits - len(shared_visits)),
        previous_seen=max((t for t in before if t is not None), default=None),
        representatives=reps,
        recent=tuple(recent[-MAX_RECENT:]),
        visit_ids=visit_ids[-MAX_VISIT_IDS:],
        cameras=(*keep.cameras, *(c for c in other.cameras if c not in keep.cameras)),
        alerted_at=alerted_at,
        alerted_visit=alerted_visit,
    )
    return merged, moves


def split_stranger(
    household: str,
    stranger: Stranger,
    sighting: StrangerSighting,
    *,
    visit_id: str | None = None,
    encoding: np.ndarray | None = None,
) -> tuple[Stranger, Stranger, CropMove | None]:
    """Take one face (`sighting`, a representative and/or a recent sighting of `stranger`)
    out of a stranger it is not: (what is left of the stranger, the new stranger that face
    becomes, the crop to move). The new stranger keeps the face's representative, or, for
    a face that was only a recent sighting, `encoding` (the caller encodes it from its
    frame and stores a new crop). The last face, or the only representative, is refused:
    nothing would be left to recognise the stranger by (forget or name them instead)."""
    verdict_id = sighting.verdict_id
    crop_key = stranger_crop_key(household, stranger.stranger_id, verdict_id)
    rep = next((r for r in stranger.representatives if r.crop_key == crop_key), None)
    in_recent = any(s.verdict_id == verdict_id for s in stranger.recent)
    if rep is None and not in_recent:
        raise BadInput(f"{verdict_id} is not a face kept of {stranger.stranger_id}")
    if stranger.sightings <= 1 or (rep is not None and len(stranger.representatives) == 1):
        raise BadInput(
            f"{verdict_id} is the last face kept of {stranger.stranger_id}: nothing would be left to "
            "recognise them by; forget or name them instead"
        )
    new_id = split_stranger_id(verdict_id)
    new_crop = stranger_crop_key(household, new_id, verdict_id)
    move = None
    if rep is not None:
        new_rep = replace(rep, crop_key=new_crop)
        move = CropMove(rep.crop_key, new_crop)
    elif encoding is not None:
        new_rep = Representative(encoding_row(encoding), new_crop)
    else:
        raise BadInput(f"{verdict_id} cannot be encoded again: its frame is gone")
    recent = tuple(s for s in stranger.recent if s.verdict_id != verdict_id)
    first_seen, last_seen = stranger.first_seen, stranger.last_seen
    if recent and sighting.seen_at <= first_seen:
        first_seen = min(s.seen_at for s in recent)  # recent holds every sighting after the first
    if recent and sighting.seen_at >= last_seen:
        last_seen = max(s.seen_at for s in recent)
    left = replace(
        stranger,
        first_seen=first_seen,
        last_seen=last_seen,
        sightings=stranger.sightings - 1,
        representatives=tuple(r for r in stranger.representatives if r is not rep),
        recent=recent,
    )
    alone = Stranger(
        stranger_id=new_id,
        first_seen=sighting.seen_at,
        last_seen=sighting.seen_at,
        sightings=1,
        visits=1,
        previous_seen=None,
        representatives=(new_rep,),
        recent=(sighting,),
        visit_ids=(visit_id,) if visit_id else (),
        cameras=(sighting.camera,),
    )
    return left, alone, move


@functools.lru_cache(maxsize=65_536)  # asked for every stranger on every change
def shard_of(stranger_id: str) -> str:
    """The shard a stranger is stored in: fixed by their id, the same in every process."""
    return f"{int(hashlib.sha256(stranger_id.encode()).hexdigest()[:8], 16) % SHARDS:02d}"


@dataclass
class StrangerBook:
    """A household's strangers (stored in shards, stranger_store.py; `to_dict` is the one
    object an older facewatch stored, and each shard's body)."""

    strangers: list[Stranger] = field(default_factory=list)

    def get(self, stranger_id: str) -> Stranger | None:
        return next((s for s in self.strangers if s.stranger_id == stranger_id), None)

    def shards(self) -> dict[str, list[Stranger]]:
        """The strangers by shard, each shard's by id: the order a stored book is read in."""
        out: dict[str, list[Stranger]] = {}
        for stranger in sorted(self.strangers, key=lambda s: s.stranger_id):
            out.setdefault(shard_of(stranger.stranger_id), []).append(stranger)
        return dict(sorted(out.items()))

    @classmethod
    def from_shards(cls, shards: dict[str, list[Stranger]]) -> StrangerBook:
        return cls([s for _, strangers in sorted(shards.items()) for s in strangers])

    def representative_encodings(self) -> tuple[list[str], np.ndarray]:
        """Every stranger's representative encodings, one row each (N x 128, float32), and
        the stranger each row is of: what a stranger is recognised by, for any code that
        compares faces with the remembered strangers. Only today's encodings (an older
        facewatch's are not comparable until recognize encodes their crops again)."""
        rows = [
            (s.stranger_id, r.encoding)
            for s in self.strangers
            for r in s.representatives
            if r.format == GALLERY_FORMAT
        ]
        return [sid for sid, _ in rows], np.array([e for _, e in rows], dtype=np.float32).reshape(-1, 128)

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "strangers": [s.to_dict() for s in self.strangers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrangerBook:
        return cls([Stranger.from_dict(s) for s in data.get("strangers", [])])
