"""The console's routes: GET shows a page or a picture, POST runs one action and redirects
(so a reload never repeats it). Every page but sign-in needs a session; every POST is
checked before its body is read (session, origin, what the session may reach) and needs
its CSRF token; every failure becomes a clear page with a 4xx (or a 5xx for a fault of ours)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import quote, unquote

from facewatch.config import Settings
from facewatch.exceptions import FacewatchError
from facewatch.household.settings import ChannelName
from facewatch.templates import render
from facewatch.tokens import BadToken, visit_path
from facewatch.web.console import actions, session, views
from facewatch.web.console.request import MAX_FILES, BodyLimit, ConsoleRequest, Form
from facewatch.web.services import Services
from facewatch.web.transport import Reply, count_error, status_for

log = logging.getLogger(__name__)

NOTE = "facewatch_note"
PAGES = (
    "visits",
    "visit",
    "person",
    "unsure",
    "faces",
    "face",
    "strangers",
    "stranger",
    "people",
    "check",
    "cameras",
    "settings",
)
"""Every page the console shows (GET /<name>, HTML), one entry each: the browser tests
(tests/integration/test_console_phone.py) walk the console's links until they have opened
each of these on a phone and a desktop, and check it fits, can be tapped and passes axe-core."""


@dataclass(frozen=True, slots=True)
class Page:
    """What every page's template gets besides its own values."""

    household: str
    csrf: str
    nonce: str
    """This response's script nonce (the Content-Security-Policy allows no other script)."""
    zone: str
    active: str
    note: str = ""
    face_only: bool = False
    """The session shows one face (an alert's link): no way to the rest of the console."""


def _headers(nonce: str, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        # No script but ours, no framing (clickjacking), and no Referer that could carry a
        # sign-in token to another site. Same-origin rather than no-referrer: under
        # no-referrer a browser sends `Origin: null` with the console's own forms, and
        # the Origin is what tells them from another site's.
        "Content-Security-Policy": (
            f"default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{nonce}'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        **extra,
    }


def _page(template: str, page: Page, status: int = 200, **values: Any) -> Reply:
    headers = _headers(page.nonce)
    if page.note:
        headers["Set-Cookie"] = f"{NOTE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    return Reply(status, render(f"console/{template}.html", page=page, **values), headers)


def _error(status: int, message: str, *, signed_in: bool = False) -> Reply:
    nonce = secrets.token_urlsafe(12)
    body = render("console/error.html", status=status, message=message, signed_in=signed_in, nonce=nonce)
    return Reply(status, body, _headers(nonce))


def _redirect(to: str, cookie: str | None = None) -> Reply:
    headers = {"Location": to, "Cache-Control": "no-store"}
    if cookie:
        headers["Set-Cookie"] = cookie
    return Reply(303, "", headers)


def handle_http(services: Services, http_request: Any) -> Reply:
    """A Flask request (functions-framework's): its head read, then handled like any other;
    the body is read only once the checks before it pass."""
    return handle(services, ConsoleRequest.from_flask(http_request))


def handle(services: Services, request: ConsoleRequest) -> Reply:
    try:
        return _route(services, request)
    except session.NotSignedIn as exc:
        count_error("console", type(exc).__name__)
        return _error(401, f"{exc}.")
    except BadToken as exc:
        count_error("console", type(exc).__name__)
        return _error(400, str(exc))
    except FacewatchError as exc:
        count_error("console", type(exc).__name__)
        status = status_for(exc)
        log.log(
            logging.WARNING if status < 500 else logging.ERROR,
            "console %s %s: %d %s",
            request.method,
            request.path,
            status,
            exc,
        )
        return _error(status, str(exc), signed_in=True)
    except Exception:
        count_error("console", "InternalError")
        log.exception("console %s %s: unexpected failure", request.method, request.path)
        return _error(500, "Something went wrong on our side; nothing was changed. Try again in a moment.")


def _route(services: Services, request: ConsoleRequest) -> Reply:
    settings, storage = services.settings, services.storage
    path, method = request.path.rstrip("/") or "/", request.method.upper()
    if path == "/signin":
        return _sign_in(services, request) if method == "POST" else _sign_in_page(services, request)
    if path == "/signedout":
        return _error(200, "You are signed out.")
    if path == "/picture" and method == "GET":  # the link is the permission: no session
        from facewatch.web.console.images import linked_picture

        return linked_picture(storage, settings, request.params.get("token", ""))
    # Nothing of the body is read before these: a stranger's upload is answered, not read.
    current = session.current_session(settings, storage, dict(request.cookies))
    if method == "POST":
        session.check_same_origin(settings, request)
        session.check_reach(current, method, path)
        form = request.read_body(_limit(settings, path))
        session.check_form(settings, current, form.fields.get("csrf"))
        return _post(services, request, current, path, form)
    if method != "GET":
        return _error(405, "use GET or POST", signed_in=True)
    session.check_reach(current, method, path)
    if current.face is not None:
        if path == "/":
            return _redirect(visit_path(current.face))
        _check_limited(services, current, path, request.params.get("id", ""))
    if path.startswith("/image/"):
        from facewatch.web.console.images import picture

        return picture(storage, settings, current.household, path.removeprefix("/image/"), request.params)
    page = _context(services, request, current, path.strip("/").split("/")[0])
    return _get(services, request, page, path)


def _check_limited(services: Services, current: session.ConsoleSession, path: str, verdict_id: str) -> None:
    """An alert's session sees its face, and the pictures of the rest of that face's visit."""
    from facewatch.web.console.visits_view import same_visit

    face = current.face
    if (
        face is not None
        and path in session.VISIT_PICTURES
        and verdict_id.strip() != face
        and same_visit(services.storage, current.household, face, verdict_id)
    ):
        return
    session.check_face(current, verdict_id)


def _limit(settings: Settings, path: str) -> BodyLimit:
    """Photos only where a form takes them; every other form is a few small fields."""
    if path in actions.UPLOADS:
        return BodyLimit(files=MAX_FILES, file_bytes=settings.max_upload_bytes)
    return BodyLimit()


def _post(
    services: Services, request: ConsoleRequest, current: session.ConsoleSession, path: str, form: Form
) -> Reply:
    settings, storage = services.settings, services.storage
    if path == "/signout":
        session.sign_out(storage, current)
        return _redirect("/signedout", session.signed_out_cookie(https=request.https))
    if path == "/settings/erase":
        from facewatch.web.console.household_data import erase

        erase(services.storage, services.settings, current.household, form.fields)
        return _redirect("/signedout", session.signed_out_cookie(https=request.https))
    if path == "/signout-everywhere":
        ended = session.sign_out_everywhere(storage, current.household)
        log.info("console: household %s signed out everywhere (%d session(s))", current.household, ended)
        return _redirect("/signedout", session.signed_out_cookie(https=request.https))
    action = actions.ACTIONS.get(path)
    if action is None:
        return _error(404, f"no action {path}", signed_in=True)
    if path in session.FACE_ACTIONS:
        session.check_face(current, form.fields.get("verdict_id", ""))
    done = action(actions.Context(storage, settings, current.household), form.fields, form.uploads)
    log.info("console: household %s: %s", current.household, done.note)
    return _redirect(done.to, f"{NOTE}={quote(done.note)}; Max-Age=60; Path=/; HttpOnly; SameSite=Lax")


def _context(
    services: Services, request: ConsoleRequest, current: session.ConsoleSession, active: str
) -> Page:
    from facewatch.household.settings import load_household_settings, resolve

    zone = resolve(load_household_settings(services.storage, current.household), services.settings).timezone
    return Page(
        household=current.household,
        csrf=session.form_token(services.settings, current),
        nonce=secrets.token_urlsafe(12),
        zone=zone,
        active=active,
        note=unquote(request.cookies.get(NOTE, ""))[:500],
        face_only=current.face is not None,
    )


def _get(services: Services, request: ConsoleRequest, page: Page, path: str) -> Reply:
    storage, settings, household, params = services.storage, services.settings, page.household, request.params
    if path == "/":
        return _redirect("/visits")
    if path in ("/visits", "/visit", "/person", "/unsure"):
        return _visits_pages(services, request, page, path)
    if path == "/faces":
        filters = views.FaceFilter.parse(dict(params))
        faces = views.faces_page(storage, household, filters, page.zone)
        template = "faces_list" if params.get("fragment") else "faces"
        return _page(template, page, faces=faces)
    if path == "/face":
        face = views.one_face(storage, household, params.get("id", ""))
        people = [p.name for p in _people(services, household)]
        return _page(
            "face", page, face=face, people=people, question=_question(storage, household, [face.verdict_id])
        )
    if path == "/strangers":
        return _page("strangers", page, strangers=views.strangers_page(storage, household, settings))
    if path == "/stranger":
        view = views.one_stranger(storage, household, settings, params.get("id", ""))
        others = [s.stranger.stranger_id for s in views.strangers_page(storage, household, settings)]
        return _page(
            "stranger", page, view=view, others=[o for o in others if o != view.stranger.stranger_id]
        )
    if path == "/people":
        return _page("people", page, people=_people(services, household))
    if path == "/check":
        return _check_page(services, page)
    if path == "/cameras":
        return _page("cameras", page, cameras=views.cameras_page(storage, household, page.zone))
    if path == "/settings/export":
        from facewatch.web.console.household_data import export

        return export(storage, household)
    if path == "/settings":
        own = views.household_settings(storage, household)
        return _page("settings", page, own=own, deployment=settings, channels=get_args(ChannelName))
    return _error(404, f"no page {path}", signed_in=True)


def _visits_pages(services: Services, request: ConsoleRequest, page: Page, path: str) -> Reply:
    from facewatch.web.console import visits_view

    storage, household, params = services.storage, page.household, dict(request.params)
    if path == "/visits":
        return _page("visits", page, visits=visits_view.visits_page(storage, household, params))
    if path == "/visit":
        view = visits_view.visit_page(storage, household, params.get("id", ""))
        people = [] if page.face_only else [p.name for p in _people(services, household)]
        # A session an alert opened may answer for its own face only.
        faces = [view.face] if page.face_only else [view.face, *(f.verdict_id for f in view.card.faces)]
        return _page("visit", page, view=view, people=people, question=_question(storage, household, faces))
    if path == "/person":
        return _page(
            "person", page, person=visits_view.person_page(storage, household, params.get("who", ""))
        )
    fold = visits_view.fold_of(storage, household, params.get("camera", ""), params.get("hour", ""))
    if fold is None:
        return _error(404, "no faces in no visit at that camera in that hour", signed_in=True)
    return _page("unsure", page, fold=fold)


def _check_page(services: Services, page: Page) -> Reply:
    from facewatch.recognize.household_check import pair_meaning
    from facewatch.recognize.household_check_inputs import NobodyKnown, questions_waiting, run_check

    storage, household = services.storage, page.household
    try:
        check = run_check(storage, services.settings, household, questions_waiting(storage, household))
    except NobodyKnown:
        return _page("check", page, check=None)
    pair = check.closest_pair
    pair_text = "" if pair is None else pair_meaning(pair, check.threshold)
    return _page("check", page, check=check, pair_text=pair_text)


def _question(storage: Any, household: str, verdict_ids: list[str]) -> Any:
    """The question "Is this X?" waiting about one of these faces, if any."""
    from facewatch.recognize.question_store import QuestionStore

    return QuestionStore(storage).question_for(household, verdict_ids)


def _people(services: Services, household: str) -> list[Any]:
    from facewatch.recognize.people import list_people

    return list_people(services.storage, household)


def _sign_in_page(services: Services, request: ConsoleRequest) -> Reply:
    """What opening a sign-in link shows: a button the person presses, which signs in by
    POST. No script presses it: a mail scanner's GET, even one that runs the page's
    scripts, spends nothing."""
    token = request.params.get("token", "")
    claim = session.check_link(services.settings, token)
    if session.link_used(services.storage, claim):
        return _error(409, "This sign-in link was already used. Ask for a new one (facewatch console-link).")
    nonce = secrets.token_urlsafe(12)
    body = render(
        "console/signin.html",
        token=token,
        household=claim.household,
        nonce=nonce,
        expires=claim.expires,
        face_only=claim.face is not None,
    )
    return Reply(200, body, _headers(nonce))


def _sign_in(services: Services, request: ConsoleRequest) -> Reply:
    # Login CSRF: another site's page must not sign this browser in (to a household of
    # its choosing), so the origin is checked before the small form is read.
    session.check_same_origin(services.settings, request)
    form = request.read_body(BodyLimit())
    try:
        done = session.spend_link(
            services.settings, services.storage, form.fields.get("token", ""), https=request.https
        )
    except session.LinkSpent as exc:
        return _error(409, str(exc))
    log.info("console: household %s signed in", done.session.household)
    return _redirect(done.next_path, done.cookie)
