"""`facewatch report`: one self-contained static HTML page about a household (recent faces
with camera, time and verdict; known people with their photos; remembered strangers with
their sightings). Every image is inline (a data: URI) and the page has no script, so it
opens from a file, an email attachment or a presigned link to the bucket alike."""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from facewatch.alerts.mail import local_time
from facewatch.config import Settings
from facewatch.exceptions import BadImage, ObjectMissing, StorageError
from facewatch.frames import Box
from facewatch.images import decode_bgr, encode_jpeg
from facewatch.layout import report_key, results_prefix
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import Stranger
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

THUMB_PX = 112
MAX_FACES = 60
MAX_PHOTOS_PER_PERSON = 4

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
.grid{display:flex;flex-wrap:wrap;gap:.8em}
figure{margin:0;padding:.4em;background:#fff;border:1px solid #ddd;border-radius:6px;width:150px}
figure img{display:block;height:112px;max-width:100%;margin:auto;object-fit:contain}
figcaption{font-size:.78em;line-height:1.35;margin-top:.3em;word-break:break-word}
.stranger{border-color:#c33}.known{border-color:#393}.unsure{border-color:#aaa}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em;margin-bottom:.8em}
.card .grid img{height:96px}
.muted{color:#777;font-size:.85em}
""".strip()


def data_uri(jpeg: bytes) -> str:
    return f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}"


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

    def thumb(self, key: str, box: Box | None = None) -> str | None:
        image = self.get(key)
        if image is None:
            return None
        try:
            return data_uri(thumbnail(image, box))
        except BadImage:
            return None


def _figure(src: str | None, caption: str, css: str = "") -> str:
    img = (
        f"<img src='{src}' alt='{html.escape(caption, quote=True)}'>"
        if src
        else "<p class='muted'>(gone)</p>"
    )
    return f"<figure class='{css}'>{img}<figcaption>{caption}</figcaption></figure>"


def _when(at: datetime, timezone: str) -> str:
    return local_time(at, timezone).strftime("%Y-%m-%d %H:%M:%S")


def _visits_section(faces: list[FaceSeen], images: _Images, timezone: str) -> Iterator[str]:
    yield f"<h2>Recent faces ({len(faces)})</h2>"
    if not faces:
        yield "<p class='muted'>No faces judged in this period.</p>"
        return
    yield "<div class='grid' id='visits'>"
    for face in faces:
        verdict = face.verdict
        caption = (
            f"<b>{html.escape(verdict)}</b> {html.escape(face.label)}<br>"
            f"{html.escape(face.camera)} · {html.escape(_when(face.captured_at, timezone))}"
        )
        if face.verdict_id:
            caption += f"<br><span class='muted'>{html.escape(face.verdict_id)}</span>"
        yield _figure(images.thumb(face.frame_key, face.box), caption, verdict)
    yield "</div>"


def _known_section(storage: Storage, household: str, images: _Images) -> Iterator[str]:
    from facewatch.recognize.known import load_gallery

    try:
        gallery, _ = load_gallery(storage, household)
    except StorageError as exc:  # never enrolled, or unreadable: say so, show the rest
        yield f"<h2>Known people</h2><p class='muted'>{html.escape(str(exc))}</p>"
        return
    yield f"<h2>Known people ({len(gallery.people)})</h2><div id='known'>"
    for person in gallery.people:
        keys = [k for n, k in zip(gallery.names, gallery.photo_keys, strict=True) if n == person]
        yield f"<div class='card'><b>{html.escape(person)}</b> "
        yield f"<span class='muted'>{len(keys)} photo(s)</span><div class='grid'>"
        for key in keys[:MAX_PHOTOS_PER_PERSON]:
            yield _figure(images.thumb(key), html.escape(key.rsplit("/", 1)[-1]), "known")
        yield "</div></div>"
    yield "</div>"


def _strangers_section(strangers: list[Stranger], images: _Images, timezone: str) -> Iterator[str]:
    yield f"<h2>Strangers ({len(strangers)})</h2>"
    if not strangers:
        yield "<p class='muted'>No stranger remembered.</p>"
        return
    yield "<div id='strangers'>"
    for s in strangers:
        yield (
            f"<div class='card'><b>{html.escape(s.stranger_id)}</b> "
            f"<span class='muted'>{s.visits} visit(s), {s.sightings} sighting(s); first seen "
            f"{html.escape(_when(s.first_seen, timezone))}, "
            f"last seen {html.escape(_when(s.last_seen, timezone))}"
            f"</span><div class='grid'>"
        )
        for key in s.crop_keys:
            yield _figure(images.thumb(key), "kept face", "stranger")
        for seen in reversed(s.recent[-6:]):
            caption = f"{html.escape(seen.camera)} · {html.escape(_when(seen.seen_at, timezone))}"
            yield _figure(images.thumb(seen.frame_key, Box(*seen.box)), caption, "stranger")
        yield "</div></div>"
    yield "</div>"


def build_report(
    storage: Storage, household: str, settings: Settings, *, now: datetime, since: timedelta
) -> str:
    from facewatch.alerts.household_settings import load_household_settings

    timezone = load_household_settings(storage, household).timezone or settings.timezone
    images = _Images(storage, settings.max_image_pixels)
    faces = recent_faces(storage, household, now - since)
    strangers = StrangerStore(storage).strangers(
        household, now=now, memory=timedelta(days=settings.stranger_memory_days)
    )
    title = f"facewatch · {household}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        # An icon of its own: a browser otherwise asks the server for /favicon.ico, which
        # a bucket (or a file:// folder) does not have, and logs a failed request.
        "<link rel='icon' href='data:,'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>Made {html.escape(_when(now, timezone))} ({html.escape(timezone)}); "
        f"faces since {html.escape(_when(now - since, timezone))}.</p>",
        *_visits_section(faces, images, timezone),
        *_known_section(storage, household, images),
        *_strangers_section(strangers, images, timezone),
        "</body></html>",
    ]
    return "\n".join(parts)


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
