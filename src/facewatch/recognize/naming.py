"""Naming a remembered stranger: every face crop kept of them becomes a known photo in one
enrollment, and then they are forgotten. And "this is X" for any judged face (`name_face`,
`name_seen_face`): a face of a remembered stranger names the whole stranger, any other face
is enrolled on its own, cut from its frame as the alert's link does."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from facewatch.exceptions import BadInput, ObjectMissing, StorageError
from facewatch.frames import Box
from facewatch.images import decode_bgr
from facewatch.layout import FrameKey, check_id, check_person, known_photo_key, known_prefix
from facewatch.recognize.photo_gates import GateLimits, PhotoWarning
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import (
    Stranger,
    find_by_face,
)
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Naming:
    stranger: Stranger
    name: str
    photos: int
    learned: int


def name_stranger(
    storage: Storage,
    household: str,
    stranger_id: str,
    name: str,
    max_pixels: int,
    extra: Sequence[tuple[str, bytes]] = (),
) -> Naming:
    """Enroll every face crop kept of a stranger as photos of `name` (one gallery rebuild),
    then forget the stranger. If no crop yields a face, nothing changes. Running it again
    after a crash between the two steps is harmless: the same photos are written again."""
    from facewatch.recognize.known import enroll

    check_person(name)
    store = StrangerStore(storage)
    stranger = store.load(household)[0].get(stranger_id)
    if stranger is None:
        raise BadInput(f"household {household} remembers no stranger {stranger_id!r}")
    photos = [(f"{stranger_id}-{filename}", data) for filename, data in extra]
    for i, key in enumerate(stranger.crop_keys):
        try:
            photos.append((f"{stranger_id}-{i}.jpg", storage.get(key).body))
        except ObjectMissing:
            log.warning("%s: crop %s is missing", stranger_id, key)
    if not photos:
        raise BadInput(f"{stranger_id} has no face crops left to learn from")
    gallery = enroll(storage, household, name, photos, max_pixels)
    ours = f"{known_prefix(household, name)}{stranger_id}-"
    learned = sum(k.startswith(ours) for k in gallery.photo_keys)
    if learned == 0:
        raise BadInput(f"no face could be learned from {stranger_id}'s crops; it is still remembered")
    store.forget(household, stranger_id)
    return Naming(stranger, name, len(photos), learned)


@dataclass(frozen=True, slots=True)
class FaceNaming:
    """What "this is X" did with one judged face."""

    name: str
    frame_key: str
    box: Box
    stranger: Stranger | None
    """The remembered stranger named with it (all their crops), or None: the face alone."""
    photos: int
    """Photos offered for enrollment: this face's crop, plus the stranger's crops."""
    learned: int
    """Of those, how many the known set now holds a face of."""
    warnings: tuple[PhotoWarning, ...] = ()
    """What the enrollment gates said of this face's crop (photo_gates), when checked."""

    @property
    def visits(self) -> int:
        return self.stranger.visits if self.stranger else 1


def _crop_and_scale(storage: Storage, frame_key: str, box: Box, max_pixels: int) -> tuple[bytes, float]:
    """The face with a generous margin (the detector that enrolls it needs the context), at
    the quality feedback's link uses; and how much that enlarged it (faces.crops.crop_scale)."""
    from facewatch.faces.crops import crop_face, crop_scale

    try:
        frame = storage.get(frame_key).body
    except ObjectMissing as exc:
        raise BadInput(f"the frame {frame_key} is gone: nothing to learn that face from") from exc
    image = decode_bgr(frame, max_pixels)
    return crop_face(image, box, quality=95), crop_scale(image, box)


def stranger_of_face(storage: Storage, household: str, frame_key: str, box: Box) -> str | None:
    """The remembered stranger this face is, if still remembered: its frame's result says
    which (a stranger keeps only its latest sightings), else their recent sightings do."""
    book = StrangerStore(storage).load(household)[0]
    try:
        result = storage.get_json(FrameKey.parse(frame_key).result_key)
    except (StorageError, BadInput):
        result = {}
    for face in result.get("faces") or []:
        raw = face.get("box")
        sid = str(face.get("stranger_id") or "")
        if sid and raw and (Box(**raw) if isinstance(raw, dict) else Box(*raw)) == box and book.get(sid):
            return sid
    found = find_by_face(book.strangers, frame_key, (box.x, box.y, box.w, box.h))
    return found.stranger_id if found else None


def name_seen_face(
    storage: Storage,
    household: str,
    frame_key: str,
    box: Box,
    name: str,
    max_pixels: int,
    *,
    photo_name: str | None = None,
    limits: GateLimits | None = None,
) -> FaceNaming:
    """Enroll the face at `box` of a stored frame as `name`: if it is a remembered stranger,
    the stranger is named (name_stranger: all their crops, one rebuild, then forgotten)
    with this face's crop among them; otherwise the crop alone is enrolled, and only if it
    shows a face (nothing is written otherwise). `photo_name`: the known photo's file name
    (default: one derived from the frame, so naming the same face twice writes it once).
    `limits`: the enrollment gates (photo_gates; GateLimits.from_settings at every door):
    the crop alone is refused as any photo would be (PhotoRefused)."""
    from facewatch.recognize.known import enroll, load_gallery
    from facewatch.recognize.photo_checks import check_upload, own_encodings, safe_photo_name

    check_person(name)
    check_id(household, "household")
    key = FrameKey.parse(frame_key)
    if key.household != household:
        raise BadInput(f"{frame_key} is not a frame of household {household}")
    crop, upscaled = _crop_and_scale(storage, frame_key, box, max_pixels)
    filename = safe_photo_name(photo_name or f"face-{key.name}-{box.x}-{box.y}.jpg", "JPEG")
    stranger_id = stranger_of_face(storage, household, frame_key, box)
    if stranger_id is not None:
        try:
            naming = name_stranger(
                storage, household, stranger_id, name, max_pixels, extra=[(filename, crop)]
            )
        except BadInput:
            # Forgotten (expired, named) meanwhile: name the face alone, as if never remembered.
            if StrangerStore(storage).load(household)[0].get(stranger_id) is not None:
                raise
        else:
            return FaceNaming(name, frame_key, box, naming.stranger, naming.photos, naming.learned)
    try:
        own = own_encodings(load_gallery(storage, household)[0], name)
    except StorageError:  # not built yet, or unreadable: nothing to be a copy of
        own = None
    # Refused (no face in it, too small, blurred): nothing written.
    limits = limits or GateLimits()
    checked = check_upload(filename, crop, max_pixels, len(crop), limits, own, upscaled=upscaled)
    gallery = enroll(storage, household, name, [(filename, crop)], max_pixels)
    learned = int(known_photo_key(household, name, filename) in gallery.photo_keys)
    return FaceNaming(name, frame_key, box, None, 1, learned, checked.warnings)


def name_face(
    storage: Storage,
    household: str,
    verdict_id: str,
    name: str,
    max_pixels: int,
    limits: GateLimits | None = None,
) -> FaceNaming:
    """ "This is X" for any face a frame's result holds (known, stranger or unsure), by its
    verdict id (`facewatch events`, the console's history): see name_seen_face."""
    from facewatch.recognize.negatives import judged_face

    key, _ = FrameKey.from_verdict_id(verdict_id)
    if key.household != household:
        raise BadInput(f"verdict {verdict_id} is not of household {household}")
    result, face = judged_face(storage, verdict_id)
    raw = face["box"]
    box = Box(**raw) if isinstance(raw, dict) else Box(*raw)
    return name_seen_face(
        storage, household, str(result.get("frame_key") or key), box, name, max_pixels, limits=limits
    )
