"""A household's known people as the household sees them: who is known, from which photos,
and the changes a person makes by hand (add photos, remove one, rename, remove someone).

The photos under `known/<person>/` are the truth; the encodings object is derived from them.
So every change here writes or deletes photos first and then rebuilds the known set once,
exactly as enrollment does (known.rebuild_gallery, compare-and-swap on its ETag), and
returns the Gallery recognize will judge by. Uploads are untrusted bytes from a browser:
each is checked as detect checks a POSTed frame (size, format, pixel limit, whole file) and
must show a face, all before the first is written, so a refused batch leaves the bucket as
it was."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facewatch.exceptions import BadInput, StorageError
from facewatch.faces.gallery import Gallery
from facewatch.household.settings import rename_in_rules
from facewatch.images import ACCEPTED_FORMATS
from facewatch.layout import (
    KnownPhotoKey,
    check_id,
    check_person,
    known_photo_key,
    known_prefix,
    negatives_key,
)
from facewatch.recognize.known import enroll, load_gallery, rebuild_gallery
from facewatch.recognize.photo_checks import (
    MAX_STEM,
    CheckedPhoto,
    PhotoRefused,
    check_batch,
    own_encodings,
    safe_photo_name,
)
from facewatch.recognize.photo_gates import GateLimits
from facewatch.store.storage import Storage, StoredObject

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Person:
    """One known person: their photos, and how many of them the known set learned from."""

    name: str
    photo_keys: tuple[str, ...]
    """Sorted keys under `known/<name>/`."""
    with_face: int | None
    """Photos the stored encodings hold a face of; None when they cannot be read (not
    built yet, or unreadable), so the page can say "unknown" rather than a wrong 0."""

    @property
    def photos(self) -> int:
        return len(self.photo_keys)


def list_people(storage: Storage, household: str) -> list[Person]:
    """The household's known people by name (case-insensitive order). One listing of the
    known prefix and one read of the encodings object: cheap enough for every page view."""
    by_person = _photos_by_person(storage, household)
    counts: dict[str, int] | None
    try:
        gallery, _ = load_gallery(storage, household)
        counts = {}
        for name, key in zip(gallery.names, gallery.photo_keys, strict=True):
            if key in by_person.get(name, ()):
                counts[name] = counts.get(name, 0) + 1
    except StorageError:  # ObjectMissing (never built) or corrupt
        counts = None
    return [
        Person(name, tuple(sorted(keys)), None if counts is None else counts.get(name, 0))
        for name, keys in sorted(by_person.items(), key=lambda item: _name_order(item[0]))
    ]


def known_names(storage: Storage, household: str) -> list[str]:
    """The names of list_people, without the read of the encodings object its photo counts
    need (the Faces page asks on every refresh)."""
    return sorted(_photos_by_person(storage, household), key=_name_order)


def _name_order(name: str) -> tuple[str, str]:
    """People in case-insensitive order (ties, names differing only in case, by the name)."""
    return name.casefold(), name


def _photos_by_person(storage: Storage, household: str) -> dict[str, list[str]]:
    """One listing of the known prefix: each person's photo keys."""
    by_person: dict[str, list[str]] = {}
    for key in storage.list_keys(known_prefix(household)):
        try:
            photo = KnownPhotoKey.parse(key)
        except BadInput:
            continue  # a stray file under known/: not a photo, as rebuild_gallery skips it
        by_person.setdefault(photo.person, []).append(key)
    return by_person


def _photo_keys(storage: Storage, household: str, name: str) -> list[str]:
    """The keys of one person's photos (what rebuild_gallery would read for them)."""
    keys = []
    for key in storage.list_keys(known_prefix(household, name)):
        with contextlib.suppress(BadInput):
            if KnownPhotoKey.parse(key).person == name:
                keys.append(key)
    return sorted(keys)


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`... if a photo of that name exists: phones call every
    upload image.jpg, and a second one must not replace the first."""
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        tail = f"-{n}"
        candidate = f"{stem[: MAX_STEM - len(tail)]}{tail}{dot}{suffix}"
    taken.add(candidate.casefold())
    return candidate


@dataclass(frozen=True, slots=True)
class PhotosAdded:
    gallery: Gallery
    photos: tuple[CheckedPhoto, ...]
    """Each photo as checked, with what to warn about (photo_gates)."""

    def warning_lines(self) -> list[str]:
        return [line for photo in self.photos for line in photo.lines()]


def add_photos(
    storage: Storage,
    household: str,
    name: str,
    photos: Sequence[tuple[str, bytes]],
    max_pixels: int,
    max_bytes: int,
    limits: GateLimits | None = None,
) -> PhotosAdded:
    """Add photos of `name` (a new person or one already known) and rebuild the known set
    once. Every photo is checked (check_upload, then the enrollment gates of photo_gates)
    before any is written, so one refused photo refuses the batch and nothing of it is kept
    (PhotoRefused names the first). A photo whose name is taken by another of that person's
    gets a new one rather than replacing it."""
    check_id(household, "household")
    check_person(name)
    if not photos:
        raise BadInput("no photos given")
    try:
        own = own_encodings(load_gallery(storage, household)[0], name)
    except StorageError:  # not built yet, or unreadable: nothing to be a copy of
        own = np.zeros((0, 128))
    named_photos = [(filename or "photo", data) for filename, data in photos]
    checked: list[CheckedPhoto] = []
    for outcome in check_batch(named_photos, max_pixels, max_bytes, limits or GateLimits(), own):
        if isinstance(outcome, PhotoRefused):
            raise outcome
        checked.append(outcome)
    prefix = known_prefix(household, name)
    taken = {key.removeprefix(prefix).casefold() for key in _photo_keys(storage, household, name)}
    named = [
        (_unique(safe_photo_name(photo.filename, photo.fmt), taken), data)
        for photo, (_, data) in zip(checked, named_photos, strict=True)
    ]
    return PhotosAdded(enroll(storage, household, name, named, max_pixels), tuple(checked))


def remove_photo(storage: Storage, household: str, photo_key: str, max_pixels: int) -> Gallery:
    """Delete one known photo, which must be under this household's known/ folder (a key
    from anywhere else is refused: the console passes keys a browser sent back), and
    rebuild the known set."""
    try:
        photo = KnownPhotoKey.parse(photo_key)
    except BadInput as exc:
        raise BadInput(f"{photo_key!r} is not a known photo: {exc}") from exc
    if photo.household != check_id(household, "household"):
        raise BadInput(f"{photo_key!r} is not a photo of household {household}")
    if not storage.exists(photo_key):
        raise BadInput(f"household {household} has no photo {photo.filename!r} of {photo.person}")
    storage.delete(photo_key)
    return rebuild_gallery(storage, household, max_pixels)


def remove_person(storage: Storage, household: str, name: str, max_pixels: int) -> Gallery:
    """Forget a known person: every photo of theirs is deleted and the known set rebuilt.
    Their "this is not X" faces stay: harmless while nobody is called X, and right again
    if X is enrolled anew."""
    keys = _photo_keys(storage, household, check_person(name))
    if not keys:
        raise BadInput(f"household {household} knows nobody called {name!r}")
    for key in keys:
        storage.delete(key)
    return rebuild_gallery(storage, household, max_pixels)


def rename_person(
    storage: Storage, household: str, old: str, new: str, max_pixels: int, *, merge: bool = False
) -> Gallery:
    """Give a known person another name: their photos are copied under the new name, the
    old ones deleted, the known set rebuilt once, and their "this is not X" faces follow
    them. A name the household already knows is refused unless `merge` says the two are
    one person; then the photos join theirs (renamed where names clash).

    Not atomic: a crash between copy and delete leaves the photos under both names, one
    person known twice; renaming again with merge=True finishes the job."""
    check_person(old)
    check_person(new)
    if old == new:
        raise BadInput(f"{old!r} is already called that")
    keys = _photo_keys(storage, household, old)
    if not keys:
        raise BadInput(f"household {household} knows nobody called {old!r}")
    existing = _photo_keys(storage, household, new)
    if existing and not merge:
        raise BadInput(
            f"household {household} already knows someone called {new!r}; "
            "to make them one person, merge them (their photos are then kept together)"
        )
    new_prefix = known_prefix(household, new)
    taken = {key.removeprefix(new_prefix).casefold() for key in existing}
    for key in keys:
        photo = KnownPhotoKey.parse(key)
        body = storage.get(key).body
        target = _unique(photo.filename, taken)
        fmt = "PNG" if target.lower().endswith(".png") else "JPEG"
        storage.put(known_photo_key(household, new, target), body, content_type=ACCEPTED_FORMATS[fmt])
    for key in keys:
        storage.delete(key)
    _rename_negatives(storage, household, old, new)
    rename_in_rules(storage, household, old, new)
    return rebuild_gallery(storage, household, max_pixels)


def _rename_negatives(storage: Storage, household: str, old: str, new: str) -> None:
    """ "This is not <old>" faces become "this is not <new>" (compare-and-swap, as
    negatives.add_negative): the correction was about the person, not the name."""

    def change(obj: StoredObject | None) -> tuple[bytes | None, None]:
        if obj is None:
            return None, None
        try:
            current = Gallery.from_bytes(obj.body)
        except StorageError:
            return None, None  # unreadable: negatives.py starts it afresh on its next change
        if old not in current.names:
            return None, None
        renamed = Gallery(
            names=[new if n == old else n for n in current.names],
            encodings=np.asarray(current.encodings, dtype=np.float32),
            photo_keys=list(current.photo_keys),
            photo_etags=list(current.photo_etags),
            format=current.format,
        )
        return renamed.to_bytes(), None

    storage.swap(negatives_key(household), change, content_type="application/x-npz")
