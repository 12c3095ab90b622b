"""The "I know this person" link: a page that asks for the name, and on submit enrolls
exactly the face the signed token names into that household's known people; when that face
is a remembered stranger, every face kept of that stranger is enrolled with it. The pages
are templates/feedback_*.html; errors are JSON, from web/transport.guarded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from facewatch.config import Settings
from facewatch.exceptions import BadInput, StorageError, WriteConflict
from facewatch.layout import check_person, used_link_key
from facewatch.store.storage import Storage
from facewatch.templates import render
from facewatch.tokens import FaceClaim, verify_face
from facewatch.web.transport import Reply

HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
FORM_BYTES = 16 * 1024
"""The largest form read: a signed link's token and a name (a few hundred bytes)."""


def _page(template: str, status: int = 200, **context: object) -> Reply:
    return Reply(status, render(template, **context), HTML)


def _claim(settings: Settings, token: str) -> FaceClaim:
    if settings.link_secret is None:
        raise BadInput("feedback links are not enabled here (FACEWATCH_LINK_SECRET is not set)")
    return verify_face(settings.link_secret.get_secret_value(), token, now=datetime.now(UTC))


def _used_key(claim: FaceClaim, token: str) -> str:
    return used_link_key(claim.household, token.strip().partition(".")[2])


def _already_used(storage: Storage, key: str) -> Reply:
    try:
        record = storage.get_json(key)
        used: dict[str, str] | None = {
            "name": str(record.get("name", "")),
            "on": str(record.get("used_at", ""))[:10],
        }
    except StorageError:
        used = None
    return _page("feedback_used.html", status=409, used=used)


def show_form(settings: Settings, storage: Storage, token: str) -> Reply:
    claim = _claim(settings, token)
    key = _used_key(claim, token)
    try:
        used = storage.exists(key)
    except StorageError:
        used = False  # the form can still be shown; the POST is what checks for certain
    if used:
        return _already_used(storage, key)
    return _page("feedback_form.html", household=claim.household, token=token, refused=None)


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
    from facewatch.recognize.photo_checks import PhotoRefused

    try:
        return _learn(settings, storage, claim, name)
    except PhotoRefused as exc:
        # Nothing learned: the link works again, and the page says why and what to do.
        storage.delete(key)
        return _page("feedback_form.html", 422, household=claim.household, token=token, refused=exc.refused)
    except Exception:
        storage.delete(key)
        raise


def _learn(settings: Settings, storage: Storage, claim: FaceClaim, name: str) -> Reply:
    from facewatch.recognize.look_again import after_learning
    from facewatch.recognize.naming import name_seen_face
    from facewatch.recognize.photo_gates import GateLimits

    # The photo takes naming's own name (`face-<frame name>-…`), as the console's does:
    # retention reads that name as the frame's mark, and keeps the event a person named.
    naming = name_seen_face(
        storage,
        claim.household,
        claim.frame_key,
        claim.box,
        name,
        settings.max_image_pixels,
        limits=GateLimits.from_settings(settings),
    )
    # As the console does after naming someone: the past week's strangers are looked at again.
    again = after_learning(storage, claim.household, settings)
    return _page("feedback_done.html", name=name, naming=naming, again=again)


def handle(
    settings: Settings, storage: Storage, *, method: str, params: Mapping[str, str], form: Mapping[str, str]
) -> Reply:
    if method == "GET":
        return show_form(settings, storage, params.get("token", ""))
    if method == "POST":
        return accept(settings, storage, form)
    return Reply(405, {"error": "MethodNotAllowed", "message": "use GET or POST"}, {"Allow": "GET, POST"})
