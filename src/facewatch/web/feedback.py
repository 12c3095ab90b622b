"""The "I know this person" link: a page that asks for the name, and on submit enrolls
exactly the face the signed token names into that household's known people; when that face
is a remembered stranger, every face kept of that stranger is enrolled with it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime

from facewatch.config import Settings
from facewatch.exceptions import BadInput, StorageError, WriteConflict
from facewatch.faces.crops import crop_face
from facewatch.frames import Box
from facewatch.images import decode_bgr
from facewatch.layout import FrameKey, check_person, used_link_key
from facewatch.recognize.known import enroll
from facewatch.recognize.naming import name_stranger
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import find_by_face
from facewatch.store.storage import Storage
from facewatch.tokens import FaceClaim, verify_face
from facewatch.web.transport import Reply

HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def _page(title: str, body: str, status: int = 200) -> Reply:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:32em;margin:2em auto'>{body}</body></html>"
    )
    return Reply(status, page, HTML)


def _claim(settings: Settings, token: str) -> FaceClaim:
    if settings.link_secret is None:
        raise BadInput("feedback links are not enabled here (FACEWATCH_LINK_SECRET is not set)")
    return verify_face(settings.link_secret.get_secret_value(), token, now=datetime.now(UTC))


def _used_key(claim: FaceClaim, token: str) -> str:
    return used_link_key(claim.household, token.strip().partition(".")[2])


def _already_used(storage: Storage, key: str) -> Reply:
    try:
        used = storage.get_json(key)
        who = f" to add {used.get('name', '')} on {str(used.get('used_at', ''))[:10]}"
    except StorageError:
        who = ""
    return _page(
        "Link already used",
        f"<h1>Link already used</h1><p>This link was already used{html.escape(who)}. Each link works once; "
        "ask whoever runs facewatch to change a name.</p>",
        status=409,
    )


def face_crop(frame_jpeg: bytes, box: Box, max_pixels: int) -> bytes:
    """The face with a generous margin: the detector that enrolls it needs some context."""
    return crop_face(decode_bgr(frame_jpeg, max_pixels), box, quality=95)


def show_form(settings: Settings, storage: Storage, token: str) -> Reply:
    claim = _claim(settings, token)
    key = _used_key(claim, token)
    try:
        used = storage.exists(key)
    except StorageError:
        used = False  # the form can still be shown; the POST is what checks for certain
    if used:
        return _already_used(storage, key)
    return _page(
        "Who is this?",
        f"<h1>Who is this?</h1><p>The face seen by household {html.escape(claim.household)}'s camera will be "
        "added to its known people, and will not raise an alert again.</p>"
        "<form method='post'><input type='hidden' name='token' value='"
        f"{html.escape(token, quote=True)}'><label>Name <input name='name' required maxlength='64'></label> "
        "<button type='submit'>I know this person</button></form>",
    )


def stranger_of(storage: Storage, claim: FaceClaim) -> str | None:
    """The remembered stranger the link's face is, if any: its frame's result says so (a
    stranger keeps only its latest sightings)."""
    try:
        result = storage.get_json(FrameKey.parse(claim.frame_key).result_key)
    except StorageError:
        result = {}
    for face in result.get("faces", []):
        if face.get("stranger_id") and Box(**face["box"]) == claim.box:
            return str(face["stranger_id"])
    box = (claim.box.x, claim.box.y, claim.box.w, claim.box.h)
    found = find_by_face(StrangerStore(storage).load(claim.household)[0].strangers, claim.frame_key, box)
    return found.stranger_id if found else None


def accept(settings: Settings, storage: Storage, form: Mapping[str, str]) -> Reply:
    """Enroll the link's face under the given name, once: the link is marked used by a
    conditional create before anything is learned, so a second use (or two at once) gets
    409 and learns nothing; if learning fails, the mark goes and the link works again."""
    token = form.get("token", "")
    claim = _claim(settings, token)
    name = check_person(form.get("name", "").strip())
    key = _used_key(claim, token)
    try:
        storage.put_json(key, {"name": name, "used_at": datetime.now(UTC)}, if_none_match=True)
    except WriteConflict:
        return _already_used(storage, key)
    try:
        return _learn(settings, storage, claim, name)
    except Exception:
        storage.delete(key)
        raise


def _learn(settings: Settings, storage: Storage, claim: FaceClaim, name: str) -> Reply:
    crop = face_crop(storage.get(claim.frame_key).body, claim.box, settings.max_image_pixels)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    stranger_id = stranger_of(storage, claim)
    if stranger_id is not None and StrangerStore(storage).load(claim.household)[0].get(stranger_id):
        naming = name_stranger(
            storage,
            claim.household,
            stranger_id,
            name,
            settings.max_image_pixels,
            extra=[(f"from-alert-{stamp}.jpg", crop)],
        )
        return _page(
            "Thank you",
            f"<h1>Thank you</h1><p>{html.escape(name)} is now known, from {naming.learned} photo(s) "
            f"kept over {naming.stranger.visits} visit(s).</p>",
        )
    gallery = enroll(
        storage, claim.household, name, [(f"from-alert-{stamp}.jpg", crop)], settings.max_image_pixels
    )
    if name not in gallery.names:
        raise BadInput("no face could be learned from that alert's photo")
    return _page("Thank you", f"<h1>Thank you</h1><p>{html.escape(name)} is now known.</p>")


def handle(
    settings: Settings, storage: Storage, *, method: str, params: Mapping[str, str], form: Mapping[str, str]
) -> Reply:
    if method == "GET":
        return show_form(settings, storage, params.get("token", ""))
    if method == "POST":
        return accept(settings, storage, form)
    return Reply(405, {"error": "MethodNotAllowed", "message": "use GET or POST"}, {"Allow": "GET, POST"})
