"""The pictures the console shows: a judged face cut from its frame, the frame, a remembered
stranger's crops and a known person's photos. Each is named by a key or a verdict id that
the session's household must own: an id of another household is refused, never served.
And the one picture a signed picture link names (an alert's frame or face, opened from the
email without a session: Settings.frame_link_url points here)."""

from __future__ import annotations

from collections.abc import Mapping

from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.images import decode_bgr
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


def picture(
    storage: Storage, settings: Settings, household: str, kind: str, params: Mapping[str, str]
) -> Reply:
    from facewatch.faces.crops import crop_face

    if kind == "face":
        face = one_face(storage, household, params.get("id", ""))
        frame = decode_bgr(storage.get(face.frame_key).body, settings.max_image_pixels)
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
