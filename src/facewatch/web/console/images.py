"""The pictures the console shows: a judged face cut from its frame, the frame, a remembered
stranger's crops and a known person's photos. Each is named by a key or a verdict id that
the session's household must own: an id of another household is refused, never served.

A page asks for a picture at the width it shows it (`w`, one of WIDTHS; `srcset` lets the
browser pick by screen): a phone loads a 160 px face, not a 1080p frame it scales down.
Without `w` the picture comes as stored (the "open the whole frame" link). Sized faces and
frames are kept in a small in-process cache: they are cut from frames, which never change,
and each request still reads the face's result first (ownership, and a frame that was
erased is a face that is gone).

It also serves the one picture a signed picture link names (an alert's frame or face,
opened from the email without a session: Settings.frame_link_url points here)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.layout import known_prefix, strangers_prefix
from facewatch.store.storage import Storage
from facewatch.web.console.views import FaceRow, one_face
from facewatch.web.transport import Forbidden, Reply

WIDTHS = (160, 320, 640, 1280)
"""The widths a picture is served at; any other `w` is refused (no resizing on demand to
sizes an attacker picks)."""
THUMB_QUALITY = 80
CACHE_BYTES = 32 << 20

# Private: a face is personal data; the browser may keep it for the session's page views.
_HEADERS = {"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=3600"}


class SizedCache:
    """The most recently used sized pictures, up to `budget` bytes in all."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], data: bytes) -> None:
        if len(data) > self.budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._size += len(data) - (len(old) if old is not None else 0)
            self._items[key] = data
            while self._size > self.budget:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)


_sized = SizedCache(CACHE_BYTES)


def width_of(params: Mapping[str, str]) -> int | None:
    """The `w` asked for: None (as stored) or one of WIDTHS; anything else is a clear 400."""
    raw = params.get("w", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) not in WIDTHS:
        raise BadInput(f"w must be one of {', '.join(map(str, WIDTHS))}, not {raw[:20]!r}")
    return int(raw)


def _owned(key: str, prefix: str) -> str:
    if not key.startswith(prefix) or ".." in key.split("/"):
        raise Forbidden("that picture belongs to another household")
    return key


def linked_picture(storage: Storage, settings: Settings, token: str) -> Reply:
    """/picture?token=…: the picture the link names, while the link has not expired."""
    from datetime import UTC, datetime

    from facewatch.tokens import verify_picture

    if settings.link_secret is None:
        raise BadInput("picture links are not enabled here (FACEWATCH_LINK_SECRET is not set)")
    claim = verify_picture(settings.link_secret.get_secret_value(), token, now=datetime.now(UTC))
    kind = "image/png" if claim.key.lower().endswith(".png") else "image/jpeg"
    headers = {**_HEADERS, "Content-Type": kind, "X-Content-Type-Options": "nosniff"}
    return Reply(200, storage.get(claim.key).body, headers)


def _fit(data: bytes, width: int, settings: Settings) -> bytes:
    """`data` (a JPEG or PNG) as a JPEG at most `width` pixels wide (never enlarged)."""
    import cv2

    from facewatch.images import decode_bgr, encode_jpeg

    image = decode_bgr(data, settings.max_image_pixels)
    height, now = image.shape[:2]
    if now > width:
        image = cv2.resize(image, (width, max(1, round(height * width / now))), interpolation=cv2.INTER_AREA)
    return encode_jpeg(image, THUMB_QUALITY)


def _of_frame(storage: Storage, settings: Settings, face: FaceRow, kind: str, width: int | None) -> bytes:
    from facewatch.faces.crops import crop_face
    from facewatch.images import decode_bgr

    box = face.box
    cache_key = (kind, face.frame_key, box.x, box.y, box.w, box.h, width)
    cached = _sized.get(cache_key)
    if cached is not None:
        return cached
    made = storage.get(face.frame_key).body
    if kind == "frame" and width is None:
        return made  # as stored, not kept: the cache is for what is cut or shrunk
    if kind == "face":
        made = crop_face(decode_bgr(made, settings.max_image_pixels), box, quality=90)
    if width is not None:
        made = _fit(made, width, settings)
    _sized.put(cache_key, made)
    return made


def picture(
    storage: Storage, settings: Settings, household: str, kind: str, params: Mapping[str, str]
) -> Reply:
    width = width_of(params)
    if kind in ("face", "frame"):
        face = one_face(storage, household, params.get("id", ""))
        return Reply(200, _of_frame(storage, settings, face, kind, width), _HEADERS)
    if kind == "crop":
        key = _owned(params.get("key", ""), strangers_prefix(household))
        body = storage.get(key).body
        return Reply(200, _fit(body, width, settings) if width else body, _HEADERS)
    if kind == "photo":
        key = _owned(params.get("key", ""), known_prefix(household))
        body = storage.get(key).body
        if width:
            return Reply(200, _fit(body, width, settings), _HEADERS)
        kind_of = "image/png" if key.lower().endswith(".png") else "image/jpeg"
        return Reply(200, body, {**_HEADERS, "Content-Type": kind_of})
    raise BadInput(f"no picture of kind {kind!r}")
