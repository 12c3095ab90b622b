"""What each console page shows, read from the household's folder through the core package:
plain values for the templates, no HTML here. Lists of faces come from the days' summaries
(recognize/day_index.py), newest day first, so a page reads a few summaries and not a
household's results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from facewatch.alerts.mail import local_time
from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.frames import Box
from facewatch.household.settings import HouseholdSettings, load_household_settings
from facewatch.layout import FrameKey, check_id, frames_prefix, results_prefix
from facewatch.recognize.day_index import FaceEntry
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import Stranger
from facewatch.records import AlertOutcome
from facewatch.store.storage import Storage

PAGE_FACES = 60
MAX_DAYS = 5
"""Day summaries the Faces page reads while filtering: a filter that matches little shows
what it found among the newest days' frames, and says so."""
VERDICTS = ("known", "stranger", "unsure")


@dataclass(frozen=True, slots=True)
class FaceFilter:
    camera: str = ""
    verdict: str = ""
    person: str = ""
    day: date | None = None
    """A day of the household's local calendar."""

    @classmethod
    def parse(cls, params: dict[str, str]) -> FaceFilter:

        camera = params.get("camera", "").strip()
        verdict = params.get("verdict", "").strip()
        if verdict and verdict not in VERDICTS:
            raise BadInput(f"verdict {verdict!r}: choose one of {', '.join(VERDICTS)}")
        raw_day = params.get("date", "").strip()
        try:
            day = date.fromisoformat(raw_day) if raw_day else None
        except ValueError:
            raise BadInput(f"date {raw_day!r}: use YYYY-MM-DD") from None
        return cls(
            camera=check_id(camera, "camera") if camera else "",
            verdict=verdict,
            person=params.get("person", "").strip()[:64],
            day=day,
        )

    def matches(self, face: FaceRow, zone: str) -> bool:
        if self.verdict and face.verdict != self.verdict:
            return False
        if self.person and self.person not in (face.name, face.stranger_id):
            return False
        return not (self.day and local_time(face.captured_at, zone).date() != self.day)

    @property
    def query(self) -> dict[str, str]:
        given = {"camera": self.camera, "verdict": self.verdict, "person": self.person}
        return {k: v for k, v in {**given, "date": self.day.isoformat() if self.day else ""}.items() if v}


@dataclass(frozen=True, slots=True)
class FaceRow:
    verdict_id: str
    frame_key: str
    camera: str
    captured_at: datetime
    verdict: str
    box: Box
    name: str | None = None
    stranger_id: str | None = None
    distance: float | None = None
    visit_id: str | None = None
    alert: AlertOutcome | None = None
    reason: str = ""
    looked_again: dict[str, Any] | None = None

    @property
    def alerted(self) -> bool:
        return self.alert is not None and self.alert.alerted


def face_rows(result: dict[str, Any]) -> list[FaceRow]:
    """The judged faces of one frame's result (none for a frame that could not be judged)."""
    rows = []
    captured = datetime.fromisoformat(str(result["captured_at"]))
    for i, face in enumerate(result.get("faces") or []):
        raw = face["box"]
        frame_key = str(result["frame_key"])
        rows.append(
            FaceRow(
                verdict_id=face.get("verdict_id") or FrameKey.parse(frame_key).verdict_id(i),
                frame_key=frame_key,
                camera=str(result["camera"]),
                captured_at=captured if captured.tzinfo else captured.replace(tzinfo=UTC),
                verdict=str(face.get("verdict")),
                box=Box(**raw) if isinstance(raw, dict) else Box(*raw),
                name=face.get("name"),
                stranger_id=face.get("stranger_id"),
                distance=face.get("distance"),
                visit_id=face.get("visit_id"),
                alert=AlertOutcome.read(face.get("alert") or result.get("alert")),
                reason=face.get("reason") or "",
                looked_again=face.get("looked_again"),
            )
        )
    return rows


def cameras(storage: Storage, household: str) -> list[str]:
    return sorted(
        set(storage.list_folders(frames_prefix(household))) | set(_result_cameras(storage, household))
    )


def _result_cameras(storage: Storage, household: str) -> list[str]:
    return storage.list_folders(results_prefix(household))


def _utc_days(day: date, zone: str) -> set[str]:
    """The UTC day folders a local calendar day spans (keys are named by UTC day)."""
    from zoneinfo import ZoneInfo

    start = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))
    return {(start + timedelta(hours=h)).astimezone(UTC).strftime("%Y%m%d") for h in (0, 12, 24 - 1e-6)}


@dataclass(frozen=True, slots=True)
class FacesPage:
    faces: list[FaceRow]
    cameras: list[str]
    people: list[str]
    filters: FaceFilter
    read: int
    complete: bool
    """False when the page stopped at MAX_DAYS days before finding PAGE_FACES faces."""


def faces_page(storage: Storage, household: str, filters: FaceFilter, zone: str) -> FacesPage:
    """The newest faces that match, from the days' summaries (recognize/day_index.py): one
    listing, then a summary per day, at most MAX_DAYS of them."""
    from facewatch.recognize.day_index_store import DayIndexStore
    from facewatch.recognize.people import known_names

    store = DayIndexStore(storage)
    wanted = _utc_days(filters.day, zone) if filters.day else None
    days = [d for d in store.summaries(household).days if wanted is None or d in wanted]
    rows: list[FaceRow] = []
    read = 0
    # The newest day alone first (200 frames fill an unfiltered page); a filter that leaves
    # it short reads as many more days at once as the rows found so far say it needs,
    # rather than one after another (each read a round trip in series).
    at = 0
    while len(rows) < PAGE_FACES and at < min(len(days), MAX_DAYS):
        wanted_days = 1 if at == 0 else math.ceil((PAGE_FACES - len(rows)) * at / max(len(rows), 1))
        wave = days[at : min(at + wanted_days, MAX_DAYS)]
        at += len(wave)
        for index in store.read_days(household, wave):
            if len(rows) >= PAGE_FACES:
                break
            entries = sorted(index.faces(), key=lambda f: (f.at, f.verdict_id), reverse=True)
            read += len({f.frame_key for f in entries})
            rows.extend(
                row
                for f in entries
                if (not filters.camera or f.camera == filters.camera)
                and (not filters.verdict or f.verdict == filters.verdict)
                and (not filters.person or filters.person in (f.name, f.stranger_id))
                and filters.matches(row := face_row(f), zone)
            )
    complete = len(rows) >= PAGE_FACES or len(days) <= MAX_DAYS
    people = known_names(storage, household)
    return FacesPage(rows[:PAGE_FACES], _result_cameras(storage, household), people, filters, read, complete)


def face_row(face: FaceEntry) -> FaceRow:
    """A summary's face as the Faces page shows it (its reason is on the face's own page)."""
    x, y, w, h = face.box
    return FaceRow(
        verdict_id=face.verdict_id,
        frame_key=face.frame_key,
        camera=face.camera,
        captured_at=face.at,
        verdict=face.verdict,
        box=Box(x, y, w, h),
        name=face.name,
        stranger_id=face.stranger_id,
        distance=face.distance,
        visit_id=face.visit_id,
        alert=face.alert,
        looked_again={"was": {"stranger_id": face.was, "verdict": face.was}} if face.was else None,
    )


def one_face(storage: Storage, household: str, verdict_id: str) -> FaceRow:
    """One judged face, by its verdict id; it must be of the session's household."""
    key, index = _own_verdict(household, verdict_id)
    result = storage.get_json(key.result_key)
    for row in face_rows(result):
        if row.verdict_id == verdict_id.strip():
            return row
    rows = face_rows(result)
    if index < len(rows):
        return rows[index]
    raise BadInput(f"frame {key.frame_id} has no face {index}")


def _own_verdict(household: str, verdict_id: str) -> tuple[FrameKey, int]:
    from facewatch.web.transport import Forbidden

    key, index = FrameKey.from_verdict_id(verdict_id)
    if key.household != household:
        raise Forbidden("that face belongs to another household")
    return key, index


@dataclass(frozen=True, slots=True)
class StrangerView:
    stranger: Stranger
    silenced: bool
    """On the household's "no alerts" list (a neighbour, the postman)."""

    @property
    def crop_keys(self) -> list[str]:
        return self.stranger.crop_keys


def strangers_page(storage: Storage, household: str, settings: Settings) -> list[StrangerView]:
    own = load_household_settings(storage, household)
    memory = timedelta(days=settings.stranger_memory_days)
    found = StrangerStore(storage).strangers(household, now=datetime.now(UTC), memory=memory)
    return [StrangerView(s, s.stranger_id in own.no_alerts) for s in found]


def one_stranger(storage: Storage, household: str, settings: Settings, stranger_id: str) -> StrangerView:
    for view in strangers_page(storage, household, settings):
        if view.stranger.stranger_id == stranger_id:
            return view
    raise BadInput(f"household {household} remembers no stranger {stranger_id!r}")


@dataclass(frozen=True, slots=True)
class CameraView:
    camera: str
    last_frame: datetime | None
    frames_today: int
    alerts_today: int
    faces_today: int = 0
    notes: list[str] = field(default_factory=list)


def _time_of(key: str) -> datetime | None:
    """A frame's or result's capture time, from its key (UTC day and HHMMSSffffff)."""
    parts = key.rsplit("/", 2)
    try:
        return datetime.strptime(parts[-2] + parts[-1][:12], "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)
    except (ValueError, IndexError):
        return None


def cameras_page(
    storage: Storage, household: str, zone: str, now: datetime | None = None
) -> list[CameraView]:
    """Every camera that sent frames: when it last did, and today's judged frames, faces
    and alerts (today in the household's zone), from the days' summaries; a camera not seen
    in the last LAST_SEEN_DAYS summaries is looked up in its frames' folders."""
    from facewatch.recognize.day_index_store import DayIndexStore

    now = now or datetime.now(UTC)
    today = local_time(now, zone).date()
    store = DayIndexStore(storage)
    days = store.summaries(household).days
    names = cameras(storage, household)
    views = {c: CameraView(c, None, 0, 0) for c in names}
    visits_alerted: dict[str, set[str]] = {c: set() for c in names}
    for n, day in enumerate(days):
        last_missing = any(v.last_frame is None for v in views.values())
        if not (day in _utc_days(today, zone) or (last_missing and n < LAST_SEEN_DAYS)):
            break
        for frame in store.day(household, day).frames.values():
            view = views.setdefault(frame.camera, CameraView(frame.camera, None, 0, 0))
            if view.last_frame is None or frame.at > view.last_frame:
                view = replace(view, last_frame=frame.at)
            if local_time(frame.at, zone).date() == today:
                alerted = {
                    f.visit_id or f.verdict_id
                    for f in frame.faces
                    if f.verdict == "stranger" and f.alert and f.alert.alerted
                }
                visits_alerted.setdefault(frame.camera, set()).update(alerted)
                view = replace(
                    view, frames_today=view.frames_today + 1, faces_today=view.faces_today + len(frame.faces)
                )
            views[frame.camera] = view
    out = []
    for camera, view in sorted(views.items()):
        if view.last_frame is None:
            view = replace(view, last_frame=_last_frame(storage, household, camera))
        out.append(replace(view, alerts_today=len(visits_alerted.get(camera, set()))))
    return out


LAST_SEEN_DAYS = 3


def _last_frame(storage: Storage, household: str, camera: str) -> datetime | None:
    prefix = f"{frames_prefix(household)}{camera}/"
    cam_days = sorted(storage.list_folders(prefix), reverse=True)
    if not cam_days:
        return None
    return max((t for k in storage.list_keys(f"{prefix}{cam_days[0]}/") if (t := _time_of(k))), default=None)


def household_settings(storage: Storage, household: str) -> HouseholdSettings:
    return load_household_settings(storage, household)
