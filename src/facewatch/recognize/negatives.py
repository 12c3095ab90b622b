""" "This is not X": faces a household said are not a known person, kept as one object
(`negatives.npz`, the gallery's own format: the name is the person they are NOT, the photo
key the verdict id they came from), changed by compare-and-swap on its ETag; recognize
passes them to decisions.judge_face, which rejects a face closer to a negative of X than
to X's photos. And what the `not` command does (`not_this_person`).

Each row keeps the verdict id it came from, so a negatives object an older facewatch made
(gallery.GALLERY_FORMAT) is encoded again from the frames the faces were judged in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from facewatch.exceptions import BadInput, ObjectMissing, StorageError
from facewatch.faces.encodings import encode_faces
from facewatch.faces.gallery import Gallery
from facewatch.frames import Box
from facewatch.images import decode_bgr, to_rgb
from facewatch.layout import FrameKey, check_person, negatives_key
from facewatch.store.storage import Storage, StoredObject

log = logging.getLogger(__name__)


def by_person(negatives: Gallery | None) -> dict[str, np.ndarray]:
    """person name → k×128 rows of faces that are not that person (decisions' contract)."""
    if negatives is None or len(negatives) == 0:
        return {}
    names = np.array(negatives.names)
    return {name: negatives.encodings[names == name].astype(np.float64) for name in negatives.people}


def load_negatives(storage: Storage, household: str) -> tuple[Gallery, str | None]:
    try:
        obj = storage.get(negatives_key(household))
    except ObjectMissing:
        return Gallery(), None
    return Gallery.from_bytes(obj.body), obj.etag


def add_negative(
    storage: Storage,
    household: str,
    name: str,
    encoding: np.ndarray,
    verdict_id: str,
    max_pixels: int,
    attempts: int = 10,
) -> Gallery:
    """Record that the face of `verdict_id` is not `name`. Recording it twice changes nothing."""

    def change(obj: StoredObject | None) -> tuple[bytes | None, Gallery]:
        current, renewed = _current(storage, household, obj, max_pixels)
        if any(n == name and k == verdict_id for n, k in zip(current.names, current.photo_keys, strict=True)):
            return (current.to_bytes() if renewed else None), current
        updated = Gallery(
            names=[*current.names, name],
            encodings=np.vstack([current.encodings, np.asarray(encoding, np.float32).reshape(1, 128)]),
            photo_keys=[*current.photo_keys, verdict_id],
            photo_etags=[*current.photo_etags, ""],
        )
        return updated.to_bytes(), updated

    return storage.swap(negatives_key(household), change, content_type="application/x-npz", attempts=attempts)


def refresh_negatives(storage: Storage, household: str, max_pixels: int, attempts: int = 10) -> Gallery:
    """The household's negatives in today's format: an object an older facewatch made is
    encoded again from the frames its faces were judged in, and stored."""

    def change(obj: StoredObject | None) -> tuple[bytes | None, Gallery]:
        current, renewed = _current(storage, household, obj, max_pixels)
        return (current.to_bytes() if renewed else None), current

    return storage.swap(negatives_key(household), change, content_type="application/x-npz", attempts=attempts)


def _current(
    storage: Storage, household: str, obj: StoredObject | None, max_pixels: int
) -> tuple[Gallery, bool]:
    """The stored negatives in today's format, and whether that differs from what is stored."""
    if obj is None:
        return Gallery(), False
    try:
        current = Gallery.from_bytes(obj.body)
    except StorageError as exc:
        # Corrupt: start again rather than refuse every correction from now on.
        log.error("household %s: negatives unreadable (%s); starting afresh", household, exc)
        return Gallery(), True
    if current.stale:
        return _encoded_again(storage, household, current, max_pixels), True
    return current, False


def _encoded_again(storage: Storage, household: str, old: Gallery, max_pixels: int) -> Gallery:
    """Rows of another format disown people at random, so each face is encoded again from
    its frame; one whose verdict or frame is gone (deleted by hand) cannot be and is dropped,
    logged. A storage failure is raised: the rows are kept for the next try."""
    names: list[str] = []
    rows: list[np.ndarray] = []
    keys: list[str] = []
    for name, verdict_id in zip(old.names, old.photo_keys, strict=True):
        try:
            rows.append(_encode_judged(storage, *judged_face(storage, verdict_id), max_pixels))
        except (ObjectMissing, BadInput) as exc:
            log.error(
                "household %s: 'not %s' of %s dropped: cannot encode it again (%s)",
                household,
                name,
                verdict_id,
                exc,
            )
            continue
        names.append(name)
        keys.append(verdict_id)
    log.warning("household %s: %d of %d negatives encoded again", household, len(rows), len(old))
    encodings = np.array(rows, dtype=np.float32).reshape(-1, 128)
    return Gallery(names=names, encodings=encodings, photo_keys=keys, photo_etags=[""] * len(keys))


def judged_face(storage: Storage, verdict_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The frame result and the face a verdict id names ("not X", "this is X")."""
    key, index = FrameKey.from_verdict_id(verdict_id)
    try:
        result = storage.get_json(key.result_key)
    except ObjectMissing as exc:
        raise BadInput(f"no verdict {verdict_id!r}: its frame was never judged") from exc
    faces = result.get("faces") or []
    if index >= len(faces):
        raise BadInput(f"no verdict {verdict_id!r}: that frame has {len(faces)} face(s)")
    return result, faces[index]


def _encode_judged(
    storage: Storage, result: dict[str, Any], face: dict[str, Any], max_pixels: int
) -> np.ndarray:
    """The face encoded again from its frame, the way known photos are encoded."""
    frame_key = str(result["frame_key"])
    try:
        body = storage.get(frame_key).body
    except ObjectMissing as exc:  # expired before its result (the lifecycle rule): a clear refusal
        raise BadInput(f"the frame {frame_key} is gone: nothing to learn that face from") from exc
    frame = decode_bgr(body, max_pixels)
    raw = face["box"]
    return encode_faces(to_rgb(frame), [Box(**raw) if isinstance(raw, dict) else Box(*raw)])[0]


@dataclass(frozen=True, slots=True)
class Correction:
    verdict_id: str
    household: str
    name: str
    negatives_for_name: int


def not_this_person(
    storage: Storage, verdict_id: str, name: str, max_pixels: int, *, named_only: bool = True
) -> Correction:
    """Find the judged face, encode it again from its frame, and record it as not `name`.
    Only a face that was named `name` can be corrected; anything else is a clear error.
    `named_only=False`: the answer "no" to a question "Is this X?" (recognize/questions.py),
    about a face that came near X without being named X."""
    check_person(name)
    household = FrameKey.from_verdict_id(verdict_id)[0].household
    result, face = judged_face(storage, verdict_id)
    if named_only and face.get("name") != name:
        said = face.get("name") or face.get("verdict")
        raise BadInput(f"verdict {verdict_id} said {said!r}, not {name!r}: nothing to correct")
    encoding = _encode_judged(storage, result, face, max_pixels)
    negatives = add_negative(storage, household, name, encoding, verdict_id, max_pixels)
    return Correction(verdict_id, household, name, negatives.names.count(name))
