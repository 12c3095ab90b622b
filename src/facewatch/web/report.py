"""`facewatch report`: one self-contained static HTML page about a household (recent faces
with camera, time and verdict; known people with their photos; remembered strangers with
their sightings), rendered from templates/report.html. Every image is inline (a data: URI)
and the page has no script, so it opens from a file, an email attachment or a presigned
link to the bucket alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from facewatch.config import Settings
from facewatch.exceptions import BadImage, ObjectMissing, StorageError
from facewatch.frames import Box
from facewatch.images import decode_bgr, encode_jpeg
from facewatch.layout import report_key, results_prefix
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import Stranger
from facewatch.store.storage import Storage
from facewatch.templates import render

log = logging.getLogger(__name__)

THUMB_PX = 112
MAX_FACES = 60
MAX_PHOTOS_PER_PERSON = 4


def thumbnail(image_bgr: np.ndarray, box: Box | None = None, height: int = THUMB_PX) -> bytes:
    """The face (with some margin) or the whole image, scaled to `height` pixels, as JPEG."""
    if box is not None:
        margin = int(max(box.w, box.h) * 0.35)
        h, w = image_bgr.shape[:2]
        x0, y0 = max(0, box.x - margin), max(0, box.y - margin)
        image_bgr = image_bgr[y0 : min(h, box.y + box.h + margin), x0 : min(w, box.x + box.w + margin)]
    if image_bgr.size == 0:
        raise BadImage("empty crop")
    scale = height / image_bgr.shape[0]
    size = (max(1, round(image_bgr.shape[1] * scale)), height)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return encode_jpeg(cv2.resize(image_bgr, size, interpolation=interpolation), 80)


@dataclass(frozen=True, slots=True)
class FaceSeen:
    captured_at: datetime
    camera: str
    frame_key: str
    verdict: str
    label: str
    box: Box
    verdict_id: str | None


def recent_faces(storage: Storage, household: str, since: datetime, limit: int = MAX_FACES) -> list[FaceSeen]:
    """The most recent judged faces, newest first."""
    first_day = since.astimezone(UTC).strftime("%Y%m%d")
    keys = sorted(
        (k for k in storage.list_keys(results_prefix(household)) if k.split("/")[-2] >= first_day),
        key=lambda k: (k.split("/")[-2], k.split("/")[-1]),
        reverse=True,
    )
    faces: list[FaceSeen] = []
    for key in keys:
        if len(faces) >= limit:
            break
        try:
            result = storage.get_json(key)
        except StorageError as exc:
            log.warning("%s skipped: %s", key, exc)
            continue
        captured = datetime.fromisoformat(str(result.get("captured_at") or result.get("at")))
        if captured < since:
            continue
        for face in result.get("faces", []):
            label = face.get("name") or face.get("stranger_id") or face.get("reason") or ""
            faces.append(
                FaceSeen(
                    captured,
                    key.split("/")[3],
                    str(result["frame_key"]),
                    str(face["verdict"]),
                    str(label),
                    Box(**face["box"]),
                    face.get("verdict_id"),
                )
            )
    faces.sort(key=lambda f: f.captured_at, reverse=True)
    return faces[:limit]


class _Images:
    """Frames and photos fetched once each, decoded safely; a missing one is skipped."""

    def __init__(self, storage: Storage, max_pixels: int) -> None:
        self.storage = storage
        self.max_pixels = max_pixels
        self._cache: dict[str, np.ndarray | None] = {}

    def get(self, key: str) -> np.ndarray | None:
        if key not in self._cache:
            try:
                self._cache[key] = decode_bgr(self.storage.get(key).body, self.max_pixels)
            except (ObjectMissing, BadImage) as exc:
                log.warning("%s not shown: %s", key, exc)
                self._cache[key] = None
        return self._cache[key]

    def thumb(self, key: str, box: Box | None = None) -> bytes | None:
        """A thumbnail JPEG of the image (or of the face in it); None if it cannot be shown."""
        image = self.get(key)
        if image is None:
            return None
        try:
            return thumbnail(image, box)
        except BadImage:
            return None


@dataclass(frozen=True, slots=True)
class Shown:
    """One picture of the page and what its caption says; thumb None: the picture is gone."""

    thumb: bytes | None
    caption: str = ""
    seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    photo_count: int
    photos: list[Shown]


@dataclass(frozen=True, slots=True)
class StrangerCard:
    stranger: Stranger
    crops: list[Shown]
    recent: list[Shown]
    """The latest sightings, newest first, each with its camera as the caption."""


def _known_people(storage: Storage, household: str, images: _Images) -> list[Person]:
    from facewatch.recognize.known import load_gallery

    gallery, _ = load_gallery(storage, household)
    people = []
    for person in gallery.people:
        keys = [k for n, k in zip(gallery.names, gallery.photo_keys, strict=True) if n == person]
        photos = [Shown(images.thumb(k), k.rsplit("/", 1)[-1]) for k in keys[:MAX_PHOTOS_PER_PERSON]]
        people.append(Person(person, len(keys), photos))
    return people


def _stranger_card(s: Stranger, images: _Images) -> StrangerCard:
    return StrangerCard(
        s,
        [Shown(images.thumb(key), "kept face") for key in s.crop_keys],
        [
            Shown(images.thumb(seen.frame_key, Box(*seen.box)), seen.camera, seen.seen_at)
            for seen in reversed(s.recent[-6:])
        ],
    )


def build_report(
    storage: Storage, household: str, settings: Settings, *, now: datetime, since: timedelta
) -> str:
    from facewatch.household.settings import load_household_settings

    timezone = load_household_settings(storage, household).timezone or settings.timezone
    images = _Images(storage, settings.max_image_pixels)
    faces = recent_faces(storage, household, now - since)
    strangers = StrangerStore(storage).strangers(
        household, now=now, memory=timedelta(days=settings.stranger_memory_days)
    )
    people: list[Person] = []
    known_problem = None
    try:
        people = _known_people(storage, household, images)
    except StorageError as exc:  # never enrolled, or unreadable: say so, show the rest
        known_problem = str(exc)
    return render(
        "report.html",
        household=household,
        timezone=timezone,
        now=now,
        since=now - since,
        faces=[(face, images.thumb(face.frame_key, face.box)) for face in faces],
        people=people,
        known_problem=known_problem,
        strangers=[_stranger_card(s, images) for s in strangers],
    )


def write_report(page: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def upload_report(storage: Storage, household: str, page: str, expires_seconds: int) -> str:
    """Store the page in the bucket and return a presigned link to it (it expires)."""
    key = report_key(household)
    storage.put(key, page.encode(), content_type="text/html; charset=utf-8")
    return storage.presigned_url(key, expires_seconds)
