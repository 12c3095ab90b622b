"""A household's known people: enrolling photos, (re)building the encodings object from
the known-photo prefix, and a per-process cache that notices a new version by its ETag."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from facewatch.exceptions import BadImage, ObjectMissing, StorageError
from facewatch.faces.detection import HogDetector
from facewatch.faces.encodings import encode_faces
from facewatch.faces.gallery import Gallery
from facewatch.frames import Box
from facewatch.images import ACCEPTED_FORMATS, decode_bgr, probe, to_rgb
from facewatch.layout import IMAGE_SUFFIXES, KnownPhotoKey, encodings_key, known_photo_key, known_prefix
from facewatch.store.storage import Storage, StoredObject

log = logging.getLogger(__name__)


def largest_face(image_bgr: np.ndarray) -> Box | None:
    """The largest face in a photo or a stored face crop. Enrollment is offline and rare, so
    it may afford HOG on the full-resolution image."""
    boxes = HogDetector(max_width=max(image_bgr.shape[1], 1), min_face_px=20).detect(image_bgr)
    return max(boxes, key=lambda b: b.area) if boxes else None


def encode_known_photo(data: bytes, max_pixels: int) -> np.ndarray | None:
    """The encoding of the largest face in an enrollment photo, or None if it has none."""
    image = decode_bgr(data, max_pixels)
    box = largest_face(image)
    return None if box is None else encode_faces(to_rgb(image), [box])[0]


def rebuild_gallery(
    storage: Storage, household: str, max_pixels: int, previous: Gallery | None = None, attempts: int = 10
) -> Gallery:
    """Encode every photo under the household's known prefix and store the result as one
    object. Photos whose ETag is unchanged are not encoded again.

    Rebuilds run concurrently (the CLI's enroll, and recognize on each known-photo event),
    and one that listed the photos before the last upload must not overwrite a newer
    result: the object is replaced only if it is still the version read before listing
    (compare-and-swap on its ETag); otherwise the rebuild starts over."""

    def change(current: StoredObject | None) -> tuple[bytes, Gallery]:
        base = previous
        if current is not None:
            with contextlib.suppress(StorageError):  # corrupt: rebuild everything from the photos
                base = Gallery.from_bytes(current.body)
        gallery = _encode_photos(storage, household, max_pixels, base)
        return gallery.to_bytes(), gallery

    gallery = storage.swap(
        encodings_key(household), change, content_type="application/x-npz", attempts=attempts
    )
    log.info("household %s: %d photos of %d people encoded", household, len(gallery), len(gallery.people))
    return gallery


def _encode_photos(storage: Storage, household: str, max_pixels: int, previous: Gallery | None) -> Gallery:
    reuse: dict[tuple[str, str], tuple[str, np.ndarray]] = {}
    if previous is not None and not previous.stale:
        for i, key in enumerate(previous.photo_keys):
            reuse[(key, previous.photo_etags[i])] = (previous.names[i], previous.encodings[i])
    names: list[str] = []
    rows: list[np.ndarray] = []
    keys: list[str] = []
    etags: list[str] = []
    for key in sorted(storage.list_keys(known_prefix(household))):
        try:
            photo = KnownPhotoKey.parse(key)
        except Exception:
            continue  # not a photo (a stray file), nothing to learn from it
        try:
            obj = storage.get(key)
        except ObjectMissing:
            continue  # removed between list and get
        if (key, obj.etag) in reuse:
            name, row = reuse[(key, obj.etag)]
        else:
            try:
                encoding = encode_known_photo(obj.body, max_pixels)
            except BadImage as exc:
                log.warning("known photo %s skipped: %s", key, exc)
                continue
            if encoding is None:
                log.warning("known photo %s skipped: no face found", key)
                continue
            name, row = photo.person, encoding
        names.append(name)
        rows.append(np.asarray(row, dtype=np.float32))
        keys.append(key)
        etags.append(obj.etag)
    return Gallery(
        names=names,
        encodings=np.array(rows, dtype=np.float32).reshape(-1, 128),
        photo_keys=keys,
        photo_etags=etags,
    )


def load_gallery(storage: Storage, household: str) -> tuple[Gallery, str]:
    obj = storage.get(encodings_key(household))
    return Gallery.from_bytes(obj.body), obj.etag


def enroll(
    storage: Storage,
    household: str,
    name: str,
    photos: Iterable[tuple[str, bytes]],
    max_pixels: int,
) -> Gallery:
    """Upload photos of one person and rebuild the household's encodings. Every photo is
    checked before any is uploaded, so a bad one leaves the bucket as it was."""
    checked = [(filename, data, probe(data, max_pixels)[0]) for filename, data in photos]
    if not checked:
        raise BadImage("no photos given")
    for filename, data, fmt in checked:
        stem = PurePosixPath(filename).stem or "photo"
        suffix = PurePosixPath(filename).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            suffix = ".png" if fmt == "PNG" else ".jpg"
        safe_stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:60] or "photo"
        storage.put(
            known_photo_key(household, name, f"{safe_stem}{suffix}"), data, content_type=ACCEPTED_FORMATS[fmt]
        )
    return rebuild_gallery(storage, household, max_pixels)


@dataclass
class _Entry:
    gallery: Gallery
    etag: str | None
    checked: float


@dataclass
class GalleryCache:
    """Known encodings per household, kept warm in the process. The object's ETag is checked
    at most once per `check_seconds`, so a new enrollment is picked up without a restart."""

    storage: Storage
    check_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    key_for: Callable[[str], str] = encodings_key
    """Which object of the household to keep (the negatives use the same cache)."""
    missing_is_empty: bool = False
    """Keep a missing object as an empty gallery, rechecked like any other: most households
    have no negatives, and asking for them on every frame would cost a request each."""
    max_pixels: int = 40_000_000
    """Settings.max_image_pixels, for rebuilding a set an older facewatch encoded."""
    rebuild: Callable[[Storage, str, int], Gallery] = rebuild_gallery
    """How to make a set of an older format comparable again (the known set: from its
    photos; negatives: negatives.refresh_negatives, from their frames)."""
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def get(self, household: str) -> tuple[Gallery, str | None]:
        """The gallery and its ETag. Raises ObjectMissing (never enrolled) or StorageError
        (unreachable or corrupt); callers treat both as 'cannot decide'."""
        now = self.clock()
        entry = self._entries.get(household)
        if entry is not None and now - entry.checked < self.check_seconds:
            return entry.gallery, entry.etag
        if entry is not None:
            try:
                etag = self.storage.etag(self.key_for(household))
            except StorageError as exc:
                # A blip in the check is no reason to judge without the known set: keep the
                # copy in hand (checked again next time) rather than call everyone unsure.
                log.warning(
                    "household %s: could not check %s (%s); using the cached copy",
                    household,
                    self.key_for(household),
                    exc,
                )
                return entry.gallery, entry.etag
            if etag == entry.etag:
                entry.checked = now
                return entry.gallery, entry.etag
        try:
            obj = self.storage.get(self.key_for(household))
            gallery, etag = Gallery.from_bytes(obj.body), obj.etag
        except ObjectMissing:
            if not self.missing_is_empty:
                raise
            gallery, etag = Gallery(), None
        if gallery.stale:
            # Today's encodings are not comparable with rows made the old way: encode the
            # faces again, once, and store the result.
            log.warning(
                "household %s: %s of format %d are encoded again",
                household,
                self.key_for(household),
                gallery.format,
            )
            gallery = self.rebuild(self.storage, household, self.max_pixels)
            etag = self.storage.etag(self.key_for(household))
        self._entries[household] = _Entry(gallery, etag, now)
        return gallery, etag

    def forget(self, household: str) -> None:
        self._entries.pop(household, None)
