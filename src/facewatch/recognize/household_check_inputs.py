"""What the household check (household_check.py) reads, for `facewatch check` and the
console's Check page alike: the known set, what each known photo shows, the last week's
faces from the day summaries (day_index_store.py: a week of results is thousands of objects,
its summaries at most eight), the remembered strangers and the questions waiting.

Each photo is measured again (its face's turn and whether it is grey) once per process and
photo version: the known set keeps each photo's ETag, so a photo unchanged since is not read."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from facewatch.config import Settings
from facewatch.exceptions import BadInput, ObjectMissing
from facewatch.faces.gallery import Gallery
from facewatch.layout import household_prefix
from facewatch.recognize.day_index import FaceEntry, day_of
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.household_check import WEEK_DAYS, HouseholdCheck, PhotoCover, check_household
from facewatch.recognize.known import load_gallery, rebuild_gallery
from facewatch.recognize.question_store import QuestionStore
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import StrangerBook
from facewatch.store.storage import Storage

KEEP_COVERS = 4096
MEASURE_WIDTH = 640
_covers: OrderedDict[tuple[str, str], PhotoCover] = OrderedDict()
_covers_lock = threading.Lock()


class NobodyKnown(BadInput):
    """The household has no known people: there is nothing to check yet."""


def questions_waiting(storage: Storage, household: str) -> Mapping[str, int]:
    """Questions ("Is this X?") waiting for an answer, by person."""
    return QuestionStore(storage).waiting(household)


def photo_cover(key: str, data: bytes, max_pixels: int) -> PhotoCover:
    """The turn of the photo's largest face (the one its known encoding is of) and whether
    the photo is grey. Found and judged grey at MEASURE_WIDTH (where it is and its colour
    survive the downscale), its landmarks fitted at full size: a few times faster than
    searching a phone's full-size photo."""
    import cv2

    from facewatch.faces.detection import HogDetector
    from facewatch.faces.pose import landmarks, yaw_degrees
    from facewatch.frames import Box
    from facewatch.images import decode_bgr, to_rgb
    from facewatch.recognize.photo_checks import is_grey

    image = decode_bgr(data, max_pixels)
    scale = min(1.0, MEASURE_WIDTH / max(image.shape[1], 1))
    small = (
        image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    faces = HogDetector(max_width=small.shape[1], min_face_px=20).detect(small)
    yaw = None
    if faces:
        b = max(faces, key=lambda f: f.area)
        box = Box(round(b.x / scale), round(b.y / scale), round(b.w / scale), round(b.h / scale))
        yaw = yaw_degrees(landmarks(to_rgb(image), box))
    return PhotoCover(key, yaw, is_grey(small))


def photo_covers(storage: Storage, gallery: Gallery, max_pixels: int) -> dict[str, PhotoCover]:
    out: dict[str, PhotoCover] = {}
    for key, etag in zip(gallery.photo_keys, gallery.photo_etags, strict=True):
        with _covers_lock:
            cover = _covers.get((key, etag))
        if cover is None:
            try:
                obj = storage.get(key)
            except ObjectMissing:
                continue  # removed since the known set was built: shown as unknown
            cover = photo_cover(key, obj.body, max_pixels)
            with _covers_lock:
                _covers[(key, obj.etag)] = cover
                while len(_covers) > KEEP_COVERS:
                    _covers.popitem(last=False)
        out[key] = cover
    return out


def week_faces(
    storage: Storage, household: str, since: datetime, until: datetime
) -> tuple[list[FaceEntry], list[str]]:
    """The faces judged in [since, until) by the day summaries, and the days among them
    whose summaries are marked behind."""
    store = DayIndexStore(storage)
    span = (until - since).days + 1
    days = sorted({day_of(since + timedelta(days=n)) for n in range(span)} | {day_of(until)})
    faces = [f for day in days for f in store.day(household, day).faces() if since <= f.at < until]
    behind = [d for d in sorted(store.summaries(household).behind) if d in days]
    return faces, behind


def known_set(storage: Storage, household: str, max_pixels: int) -> Gallery:
    """The household's known set; a clear refusal for an unknown household or one that knows
    nobody."""
    try:
        gallery, _ = load_gallery(storage, household)
    except ObjectMissing:
        gallery = Gallery()
    if gallery.stale:
        # Rows of an older facewatch are not comparable with today's threshold or strangers:
        # encoded again once, as recognize's GalleryCache would at the next frame.
        gallery = rebuild_gallery(storage, household, max_pixels)
    if len(gallery):
        return gallery
    if next(iter(storage.list_keys(household_prefix(household))), None) is None:
        raise BadInput(f"unknown household {household}: nothing of it is in bucket {storage.bucket}")
    raise NobodyKnown(
        f"household {household} knows nobody yet: enroll someone first "
        f"(facewatch enroll --household {household} --name NAME PHOTO...)"
    )


def run_check(
    storage: Storage,
    settings: Settings,
    household: str,
    waiting: Mapping[str, int],
    *,
    now: datetime | None = None,
) -> HouseholdCheck:
    """The check of the week up to `now`. `waiting`: questions_waiting(storage, household)."""
    gallery = known_set(storage, household, settings.max_image_pixels)
    until = now or datetime.now(UTC)
    since = until - timedelta(days=WEEK_DAYS)
    faces, behind = week_faces(storage, household, since, until)
    remembered = StrangerStore(storage).strangers(
        household, now=until, memory=timedelta(days=settings.stranger_memory_days)
    )
    stranger_ids, stranger_rows = StrangerBook(remembered).representative_encodings()
    return check_household(
        household,
        gallery,
        MatchPolicy.from_settings(settings),
        covers=photo_covers(storage, gallery, settings.max_image_pixels),
        faces=faces,
        stranger_ids=stranger_ids,
        stranger_rows=stranger_rows,
        waiting=waiting,
        since=since,
        until=until,
        behind=behind,
    )
