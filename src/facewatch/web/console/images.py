"""The pictures the console shows: a judged face cut from its frame, the frame, a remembered
stranger's crops and a known person's photos. Each is named by a key or a verdict id that
the session's household must own: an id of another household is refused, never served."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.frames import Box
from facewatch.images import decode_bgr, encode_jpeg
from facewatch.layout import known_prefix, strangers_prefix
from facewatch.store.storage import Storage
from facewatch.web.console.views import one_face
from facewatch.web.transport import Forbidden, Reply

# Private: a face is personal data; the browser may keep it for the session's page views.
_HEADERS = {"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=3600"}


def _owned(key: str, prefix: str) -> str:
    if not key.startswith(prefix) or ".." in key.split("/"):
        raise Forbidden("that picture belongs to another household")
    return key


THUMB_PX = 192
"""A card's face at twice its 96 CSS pixels (sharp on a phone's screen), not a full crop."""


def thumbnail(frame: np.ndarray, box: Box) -> bytes:
    """The face with a little margin, square, at most THUMB_PX on a side."""
    import cv2

    height, width = frame.shape[:2]
    side = int(max(box.w, box.h) * 1.4)
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    crop = frame[y0 : min(height, y0 + side), x0 : min(width, x0 + side)]
    scale = THUMB_PX / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return encode_jpeg(crop, 85)


def picture(
    storage: Storage, settings: Settings, household: str, kind: str, params: Mapping[str, str]
) -> Reply:
    from facewatch.faces.crops import crop_face

    if kind == "face":
        face = one_face(storage, household, params.get("id", ""))
        frame = decode_bgr(storage.get(face.frame_key).body, settings.max_image_pixels)
        if params.get("size") == "thumb":
            return Reply(200, thumbnail(frame, face.box), _HEADERS)
        return Reply(200, crop_face(frame, face.box, quality=90), _HEADERS)
    if kind == "frame":
        face = one_face(storage, household, params.get("id", ""))
        return Reply(200, storage.get(face.frame_key).body, _HEADERS)
    if kind == "crop":
        key = _owned(params.get("key", ""), strangers_prefix(household))
        return Reply(200, storage.get(key).body, _HEADERS)
    if kind == "photo":
        key = _owned(params.get("key", ""), known_prefix(household))
        kind_of = "image/png" if key.lower().endswith(".png") else "image/jpeg"
        return Reply(200, storage.get(key).body, {**_HEADERS, "Content-Type": kind_of})
    raise BadInput(f"no picture of kind {kind!r}")
