"""A household's day at a glance, kept as results are written: one small summary per UTC
day (every judged frame's faces, without their encodings or frames), and one per household
of who came on which day at which camera. The console's pages read these instead of
listing and reading hundreds of result objects per request.

Pure: plain data in, plain data out. The summaries are derived from the results alone, so
`facewatch reindex` rebuilds them from the results whenever one is lost or damaged
(day_index_store.py writes them; a failed write leaves a "behind" marker the pages show).

A visit here is what the console shows as one card: a stranger's visit (recognize's visit
id), or a known person's run of faces at one camera with no gap longer than
`KNOWN_GAP`. Faces in no visit (unsure faces of passers-by, an audience, a stranger face
held back on a known person's track) are folded per camera and hour."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from facewatch.records import AlertOutcome, DeliveryStatus

FORMAT = 1
KNOWN_GAP = timedelta(minutes=5)
"""A known person's faces at one camera further apart than this are two visits (recognize's
default visit window)."""
SHARP_ENOUGH = 120.0
"""Laplacian variance past which a face counts as fully sharp for choosing the best face."""


@dataclass(frozen=True, slots=True)
class FaceEntry:
    """One judged face, as the console shows it."""

    verdict_id: str
    frame_key: str
    camera: str
    at: datetime
    verdict: str
    box: tuple[int, int, int, int]
    name: str | None = None
    stranger_id: str | None = None
    visit_id: str | None = None
    distance: float | None = None
    alert: AlertOutcome | None = None
    sharpness: float | None = None
    was: str | None = None
    """Who the face was judged to be before `look_again` changed it, if it did."""
    nearest: str | None = None
    """The known person the face came nearest to (FaceVerdict.nearest; `distance` is
    theirs): the household check counts a near-miss as that person's. None in summaries
    written before it was kept."""

    @property
    def who(self) -> str:
        if self.verdict == "known" and self.name:
            return self.name
        return self.stranger_id or "unsure"

    @property
    def score(self) -> float:
        """Best face first: the largest, sharpest face (sharpness unknown counts as half).
        How frontal a face is is not kept in results, so it does not count yet."""
        sharp = 0.5 if self.sharpness is None else min(self.sharpness / SHARP_ENOUGH, 1.0)
        known = 1.1 if self.verdict == "known" else 1.0
        return min(self.box[2], self.box[3]) * (0.25 + sharp) * known

    def to_list(self) -> list[Any]:
        alert = None if self.alert is None else self.alert.model_dump(mode="json")
        return [
            self.verdict_id,
            self.verdict,
            list(self.box),
            self.name,
            self.stranger_id,
            self.visit_id,
            None if self.distance is None else round(self.distance, 3),
            alert,
            None if self.sharpness is None else round(self.sharpness, 1),
            self.was,
            self.nearest,
        ]

    @classmethod
    def from_list(cls, raw: list[Any], frame_key: str, camera: str, at: datetime) -> FaceEntry:
        vid, verdict, box, name, sid, visit, distance, alert, sharp, was, *later = raw
        nearest = later[0] if later else None  # summaries written before `nearest` have 10
        return cls(
            str(vid),
            frame_key,
            camera,
            at,
            str(verdict),
            (int(box[0]), int(box[1]), int(box[2]), int(box[3])),
            name,
            sid,
            visit,
            distance,
            _outcome(alert),
            sharp,
            was,
            nearest,
        )


def _outcome(raw: Any) -> AlertOutcome | None:
    """Outcomes repeat ("same visit, already alerted"): each distinct one is validated once."""
    if not raw:
        return None
    if isinstance(raw, dict):
        return _outcome_of(raw.get("status"), raw.get("detail", ""), raw.get("kind", "stranger"))
    return AlertOutcome.read(raw)


@lru_cache(maxsize=4096)
def _outcome_of(status: Any, detail: Any, kind: Any) -> AlertOutcome:
    return AlertOutcome.model_validate({"status": status, "detail": detail, "kind": kind})


@dataclass(frozen=True, slots=True)
class FrameEntry:
    frame_key: str
    camera: str
    at: datetime
    faces: tuple[FaceEntry, ...] = ()


def _box(raw: Any) -> tuple[int, int, int, int]:
    if isinstance(raw, Mapping):
        return int(raw["x"]), int(raw["y"]), int(raw["w"]), int(raw["h"])
    return int(raw[0]), int(raw[1]), int(raw[2]), int(raw[3])


def entry_of(result: Mapping[str, Any]) -> FrameEntry | None:
    """A stored result's entry (any version's results); None for a frame that could not be
    judged (its result records the error, and there is nothing to show)."""
    if "error" in result or not result.get("captured_at") or not result.get("frame_key"):
        return None
    at = datetime.fromisoformat(str(result["captured_at"]))
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    frame_key, camera = str(result["frame_key"]), str(result["camera"])
    household, frame_id = frame_key.split("/")[1], "/".join(frame_key.split("/")[3:]).rsplit(".", 1)[0]
    faces = []
    for i, face in enumerate(result.get("faces") or []):
        looked = face.get("looked_again") or {}
        was = looked.get("was") or {}
        faces.append(
            FaceEntry(
                verdict_id=str(face.get("verdict_id") or f"{household}/{frame_id}#{i}"),
                frame_key=frame_key,
                camera=camera,
                at=at,
                verdict=str(face.get("verdict")),
                box=_box(face["box"]),
                name=face.get("name"),
                stranger_id=face.get("stranger_id"),
                visit_id=face.get("visit_id"),
                distance=face.get("distance"),
                alert=AlertOutcome.read(face.get("alert") or result.get("alert"))
                if face.get("verdict") == "stranger" or face.get("alert")
                else None,
                sharpness=face.get("sharpness"),
                was=(was.get("stranger_id") or was.get("verdict")) if looked else None,
                nearest=face.get("nearest"),
            )
        )
    return FrameEntry(frame_key, camera, at, tuple(faces))


def day_of(at: datetime) -> str:
    """The UTC day a capture time's frame is filed under (its key's day)."""
    return at.astimezone(UTC).strftime("%Y%m%d")


@dataclass
class DayIndex:
    """One household's UTC day: every judged frame, by frame key (so indexing a result
    twice, or a rewritten result, replaces its entry rather than adding one)."""

    day: str
    frames: dict[str, FrameEntry] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "day": self.day,
            "frames": [
                [f.frame_key, f.camera, f.at.isoformat(), [face.to_list() for face in f.faces]]
                for f in sorted(self.frames.values(), key=lambda f: (f.at, f.frame_key))
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DayIndex:
        if data.get("format") != FORMAT:
            raise ValueError(f"day index format {data.get('format')!r}, expected {FORMAT}")
        frames = {}
        for key, camera, at_text, faces in data["frames"]:
            at = datetime.fromisoformat(at_text)
            frames[key] = FrameEntry(
                key, camera, at, tuple(FaceEntry.from_list(f, key, camera, at) for f in faces)
            )
        return cls(str(data["day"]), frames)

    def with_entries(self, entries: Iterable[FrameEntry]) -> DayIndex:
        return DayIndex(self.day, {**self.frames, **{e.frame_key: e for e in entries}})

    def faces(self) -> list[FaceEntry]:
        return [face for frame in self.frames.values() for face in frame.faces]


# --- what the pages show ------------------------------------------------------------------


class Outcome(StrEnum):
    """What a visit led to. Code branches on this; the visit's `detail` says why."""

    ALERTED = "alerted"
    HELD_BACK = "held back"
    KNOWN = "known"
    NOT_ALERTED = "not alerted"
    """A stranger's visit whose alert is not (yet) known to have gone out: queued, failed."""


@dataclass(frozen=True, slots=True)
class VisitCard:
    visit_id: str
    who: str
    verdict: str
    """known, stranger or unsure: who the visit's faces say it was."""
    cameras: tuple[str, ...]
    first: datetime
    last: datetime
    faces: tuple[FaceEntry, ...]
    outcome: Outcome
    detail: str = ""
    """For a visit held back: the rule that held it back."""

    @property
    def best(self) -> FaceEntry:
        return max(self.faces, key=lambda f: (f.score, f.at))

    @property
    def camera(self) -> str:
        return ", ".join(self.cameras)

    @property
    def frames(self) -> int:
        return len({f.frame_key for f in self.faces})


@dataclass(frozen=True, slots=True)
class Fold:
    """Faces in no visit at one camera in one hour (UTC hour start), shown on demand."""

    camera: str
    hour: datetime
    faces: tuple[FaceEntry, ...]

    @property
    def best(self) -> FaceEntry:
        return max(self.faces, key=lambda f: (f.score, f.at))


def _card(visit_id: str, faces: list[FaceEntry]) -> VisitCard:
    faces.sort(key=lambda f: (f.at, f.verdict_id))
    names = Counter(f.name for f in faces if f.verdict == "known" and f.name)
    strangers = Counter(f.stranger_id for f in faces if f.stranger_id)
    if names:
        who, verdict = names.most_common(1)[0][0], "known"
    elif strangers:
        who, verdict = str(strangers.most_common(1)[0][0]), "stranger"
    else:
        who, verdict = "unsure", "stranger" if any(f.verdict == "stranger" for f in faces) else "unsure"
    alerts = [f.alert for f in faces if f.alert is not None and f.alert.kind == "stranger"]
    if any(a.alerted for a in alerts):
        outcome, detail = Outcome.ALERTED, ""
    elif verdict == "known" and not any(a.status is DeliveryStatus.SENT for a in alerts):
        # Named since (look again): held back or not, the household knows who it was.
        outcome, detail = Outcome.KNOWN, ""
    elif alerts and all(a.status is DeliveryStatus.HELD_BACK for a in alerts):
        outcome, detail = Outcome.HELD_BACK, alerts[0].detail
    else:
        outcome = Outcome.NOT_ALERTED
        detail = next((str(a) for a in alerts if a.status is not DeliveryStatus.HELD_BACK), "")
    cameras = tuple(dict.fromkeys(f.camera for f in faces))
    return VisitCard(
        visit_id, who, verdict, cameras, faces[0].at, faces[-1].at, tuple(faces), outcome, detail
    )


def in_a_visit(face: FaceEntry) -> bool:
    return bool(face.visit_id) or (face.verdict == "known" and bool(face.name))


def _named_spans(
    grouped: Mapping[str, list[FaceEntry]],
) -> dict[tuple[str, str], list[tuple[str, datetime, datetime]]]:
    """Per (name, camera): the visits whose faces name that person there, with their times."""
    spans: dict[tuple[str, str], list[tuple[str, datetime, datetime]]] = {}
    for visit_id, group in grouped.items():
        for name, camera in {(f.name, f.camera) for f in group if f.verdict == "known" and f.name}:
            times = [f.at for f in group]
            spans.setdefault((name, camera), []).append((visit_id, min(times), max(times)))
    return spans


def visits(faces: Iterable[FaceEntry]) -> list[VisitCard]:
    """The visits among these faces, newest first (by their last face). A named face in no
    recognize visit joins a visit that names the same person at that camera within
    KNOWN_GAP of its faces: once a stranger is named, the faces of theirs that were left
    unsure and are named by looking again belong to the same visit, not to a second card."""
    ordered = sorted(faces, key=lambda f: (f.at, f.verdict_id))
    grouped: dict[str, list[FaceEntry]] = {}
    for face in ordered:
        if face.visit_id:
            grouped.setdefault(face.visit_id, []).append(face)
    spans = _named_spans(grouped)
    runs: dict[tuple[str, str], tuple[str, datetime]] = {}
    for face in ordered:
        if face.visit_id or not (face.verdict == "known" and face.name):
            continue
        joined = next(
            (
                visit_id
                for visit_id, first, last in spans.get((face.name, face.camera), [])
                if first - KNOWN_GAP <= face.at <= last + KNOWN_GAP
            ),
            None,
        )
        if joined is not None:
            grouped[joined].append(face)
            continue
        run = runs.get((face.name, face.camera))
        if run is None or face.at - run[1] > KNOWN_GAP:
            run = (f"seen-{face.verdict_id}", face.at)
        runs[(face.name, face.camera)] = (run[0], face.at)
        grouped.setdefault(run[0], []).append(face)
    cards = [_card(vid, group) for vid, group in grouped.items()]
    return sorted(cards, key=lambda c: (c.last, c.visit_id), reverse=True)


def folds(faces: Iterable[FaceEntry]) -> list[Fold]:
    """Faces in no visit, one line per camera and hour, newest first."""
    grouped: dict[tuple[str, datetime], list[FaceEntry]] = {}
    for face in faces:
        if in_a_visit(face):
            continue
        hour = face.at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        grouped.setdefault((face.camera, hour), []).append(face)
    return [
        Fold(camera, hour, tuple(sorted(group, key=lambda f: f.at)))
        for (camera, hour), group in sorted(
            grouped.items(), key=lambda item: (item[0][1], item[0][0]), reverse=True
        )
    ]


def visit_of(faces: Iterable[FaceEntry], verdict_id: str) -> VisitCard | None:
    """The visit one face belongs to (None: a face in no visit, or not in these faces)."""
    for card in visits(faces):
        if any(f.verdict_id == verdict_id for f in card.faces):
            return card
    return None


# --- who came when: the household's people summary ---------------------------------------


@dataclass
class PeopleIndex:
    """Per person (a name or a `stranger-…` id): for each UTC day they came, their visits
    per camera. Changed only when a day's counts change (a visit begins, a face is named),
    not by every frame; the exact last sighting is read from that day's index."""

    people: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "people": self.people}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeopleIndex:
        if data.get("format") != FORMAT:
            raise ValueError(f"people index format {data.get('format')!r}, expected {FORMAT}")
        people = {
            str(who): {str(d): {str(c): int(n) for c, n in cams.items()} for d, cams in days.items()}
            for who, days in data["people"].items()
        }
        return cls(people)

    def last_day(self, who: str) -> str | None:
        days = self.people.get(who)
        return max(days) if days else None


def day_people(index: DayIndex) -> dict[str, dict[str, int]]:
    """Who came on the index's day: visits per person per camera (unsure visits left out)."""
    out: dict[str, dict[str, int]] = {}
    for card in visits(index.faces()):
        if card.who == "unsure":
            continue
        per_camera = out.setdefault(card.who, {})
        for camera in card.cameras:
            per_camera[camera] = per_camera.get(camera, 0) + 1
    return out


def with_day(people: PeopleIndex, day: str, came: Mapping[str, Mapping[str, int]]) -> PeopleIndex:
    """The people index with one day's visits replaced by `came` (day_people of that day):
    someone named since moves from the stranger id to the name."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for who, days in people.people.items():
        kept = {d: dict(c) for d, c in days.items() if d != day}
        if kept:
            out[who] = kept
    for who, cams in came.items():
        out.setdefault(who, {})[day] = dict(cams)
    return replace(people, people=out)
