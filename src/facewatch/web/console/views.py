"""What each console page shows, read from the household's folder through the core package:
plain values for the templates, no HTML here. Listings go by folder (cameras, then days,
newest first), so a page reads the frames it shows and not a household's whole history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from facewatch.alerts.mail import local_time
from facewatch.config import Settings
from facewatch.exceptions import BadInput, StorageError
from facewatch.frames import Box
from facewatch.household.settings import HouseholdSettings, load_household_settings
from facewatch.layout import FrameKey, check_id, frames_prefix, results_prefix
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import Stranger
from facewatch.records import AlertOutcome
from facewatch.store.storage import Storage

PAGE_FACES = 60
MAX_READS = 400
"""Result objects one page may read while filtering: a filter that matches little shows
what it found among the newest this many frames, and says so."""
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


def newest_result_keys(
    storage: Storage, household: str, *, camera: str = "", days: set[str] | None = None
) -> Iterator[str]:
    """Result keys newest first, read folder by folder: a day's keys of every camera, then
    the day before. Names start with the capture time, so order by (day, name) is time."""
    prefix = results_prefix(household)
    chosen = [camera] if camera else _result_cameras(storage, household)
    by_camera = {cam: sorted(storage.list_folders(f"{prefix}{cam}/"), reverse=True) for cam in chosen}
    all_days = sorted({d for ds in by_camera.values() for d in ds}, reverse=True)
    for day in all_days:
        if days is not None and day not in days:
            continue
        keys = [
            key
            for cam, cam_days in by_camera.items()
            if day in cam_days
            for key in storage.list_keys(f"{prefix}{cam}/{day}/")
        ]
        yield from sorted(keys, key=lambda k: k.rsplit("/", 1)[-1], reverse=True)


@dataclass(frozen=True, slots=True)
class FacesPage:
    faces: list[FaceRow]
    cameras: list[str]
    people: list[str]
    filters: FaceFilter
    read: int
    complete: bool
    """False when the page stopped at MAX_READS frames before finding PAGE_FACES faces."""


def faces_page(storage: Storage, household: str, filters: FaceFilter, zone: str) -> FacesPage:
    from facewatch.recognize.people import known_names

    days = _utc_days(filters.day, zone) if filters.day else None
    rows: list[FaceRow] = []
    read = 0
    complete = True
    for key in newest_result_keys(storage, household, camera=filters.camera, days=days):
        if len(rows) >= PAGE_FACES:
            break
        if read >= MAX_READS:
            complete = False
            break
        read += 1
        try:
            result = storage.get_json(key)
        except StorageError:
            continue  # deleted between listing and reading
        rows.extend(face for face in face_rows(result) if filters.matches(face, zone))
    people = known_names(storage, household)
    return FacesPage(rows[:PAGE_FACES], cameras(storage, household), people, filters, read, complete)


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
    """Every camera that sent frames: when it last did, and today's frames and alerts
    (today in the household's zone). Alerts are counted from today's results."""
    now = now or datetime.now(UTC)
    today = local_time(now, zone).date()
    days = _utc_days(today, zone)
    views = []
    for camera in cameras(storage, household):
        prefix = f"{frames_prefix(household)}{camera}/"
        cam_days = sorted(storage.list_folders(prefix), reverse=True)
        last = None
        if cam_days:
            last = max(
                (t for k in storage.list_keys(f"{prefix}{cam_days[0]}/") if (t := _time_of(k))), default=None
            )
        frames = [
            t
            for d in days & set(cam_days)
            for k in storage.list_keys(f"{prefix}{d}/")
            if (t := _time_of(k)) and local_time(t, zone).date() == today
        ]
        alerts = faces = 0
        notes = []
        result_keys = [
            k
            for k in newest_result_keys(storage, household, camera=camera, days=days)
            if (t := _time_of(k)) and local_time(t, zone).date() == today
        ]
        for key in result_keys[:MAX_READS]:
            try:
                result = storage.get_json(key)
            except StorageError:
                continue
            rows = face_rows(result)
            faces += len(rows)
            alerts += len({r.visit_id or r.verdict_id for r in rows if r.verdict == "stranger" and r.alerted})
        if len(result_keys) > MAX_READS:
            notes.append(f"alerts counted in the newest {MAX_READS} frames")
        views.append(CameraView(camera, last, len(frames), alerts, faces, notes))
    return views


def household_settings(storage: Storage, household: str) -> HouseholdSettings:
    return load_household_settings(storage, household)
