"""Signing in without passwords to store: a one-time link (tokens.sign_in_link) is spent by
the button its page shows (a POST), never by the GET a mail scanner makes, whether or not
the scanner runs scripts. Spending it creates a session record in the household's folder
(layout.session_key) and a cookie carrying the record's signed id: a cookie works while
its record is there, so signing out deletes the record (a copied cookie stops working at
once, on every instance) and "sign out everywhere" deletes all of a household's.

A session opened by an alert's link is limited to that face: its page, its pictures and
naming it ("this is X", "not X"); the rest of the console needs a console link.

Every POST is checked before its body is read: the session, then that it comes from a page
of the console itself (Origin, Sec-Fetch-Site), then its CSRF token once the small form is
read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from facewatch.config import Settings
from facewatch.exceptions import BadInput, ObjectMissing, WriteConflict
from facewatch.layout import session_key, sessions_prefix, used_link_key
from facewatch.store.storage import Storage
from facewatch.tokens import (
    BadToken,
    Session,
    SignIn,
    check_csrf,
    csrf_token,
    sign_in_link,
    sign_session,
    verify_session,
    verify_sign_in,
)
from facewatch.web.console.request import ConsoleRequest
from facewatch.web.transport import Forbidden, Unauthorized

COOKIE = "facewatch_session"
FACE_PAGES = frozenset({"/face", "/visit", "/image/face", "/image/frame"})
"""What a face-limited session may GET (each for its one face; the pictures also for the
other faces of its face's visit)."""
VISIT_PICTURES = frozenset({"/image/face", "/image/frame"})
FACE_ACTIONS = frozenset({"/faces/is", "/faces/not", "/visits/is", "/visits/not", "/questions/answer"})
"""What it may POST (for its one face), besides signing out."""
LIMITED = (
    "this session, opened by an alert's link, shows that one face only: for the rest of the "
    "console, sign in with a console link (facewatch console-link)"
)


class NotSignedIn(Unauthorized):
    """No session, or one that is not valid: the browser must sign in by a new link."""


class LinkSpent(BadInput):
    pass


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A live session: its signed claim, and what its record says it may reach."""

    claim: Session
    face: str | None = None
    """The one face (a verdict id) the session may see and name; None: the whole console."""

    @property
    def household(self) -> str:
        return self.claim.household


def _secret(settings: Settings) -> str:
    if settings.link_secret is None:
        raise BadInput("the console is not enabled here (FACEWATCH_LINK_SECRET is not set)")
    return settings.link_secret.get_secret_value()


def console_link(settings: Settings, household: str, *, ttl: timedelta, next_path: str = "/") -> str:
    """A one-time sign-in URL for a household's console (`facewatch console-link`)."""
    if not settings.console_url:
        raise BadInput("FACEWATCH_CONSOLE_URL is not set: where is the console?")
    token = sign_in_link(_secret(settings), household, now=datetime.now(UTC), ttl=ttl, next_path=next_path)
    return f"{settings.console_url.rstrip('/')}/signin?token={token}"


def check_link(settings: Settings, token: str) -> SignIn:
    """What a sign-in link says, without spending it (the page a GET shows)."""
    return verify_sign_in(_secret(settings), token, now=datetime.now(UTC))


def link_used(storage: Storage, claim: SignIn) -> bool:
    return storage.exists(used_link_key(claim.household, claim.signature))


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: ConsoleSession
    cookie: str
    """The Set-Cookie header's value."""
    next_path: str


def spend_link(settings: Settings, storage: Storage, token: str, *, https: bool) -> SignedIn:
    """Spend a sign-in link, once: the conditional create of its used-mark is the one thing
    that decides, so two tabs (or a scanner and a person) cannot both sign in with it."""
    claim = check_link(settings, token)
    now = datetime.now(UTC)
    try:
        storage.put_json(
            used_link_key(claim.household, claim.signature),
            {"used_at": now, "purpose": "console sign-in"},
            if_none_match=True,
        )
    except WriteConflict:
        raise LinkSpent("this sign-in link was already used: ask for a new one") from None
    ttl = timedelta(seconds=settings.console_session_seconds)
    value, session = sign_session(_secret(settings), claim.household, now=now, ttl=ttl)
    storage.put_json(
        session_key(session.household, session.session_id),
        {
            "household": session.household,
            "signed_in_at": now,
            "expires": session.expires,
            "face": claim.face,
            "by": "an alert's link" if claim.face else "a console link",
        },
        if_none_match=True,
    )
    _remove_expired(storage, session.household, now)
    return SignedIn(
        ConsoleSession(session, claim.face), session_cookie(value, ttl, https=https), claim.next_path
    )


def _remove_expired(storage: Storage, household: str, now: datetime) -> None:
    """Records of sessions past their expiry (named by it), so they do not pile up."""
    for key in list(storage.list_keys(sessions_prefix(household))):
        stamp = key.rsplit("/", 1)[-1].split("-", 1)[0]
        if stamp.isdigit() and int(stamp) < now.timestamp():
            storage.delete(key)


def session_cookie(value: str, ttl: timedelta, *, https: bool) -> str:
    secure = "; Secure" if https else ""
    return f"{COOKIE}={value}; Max-Age={int(ttl.total_seconds())}; Path=/; HttpOnly; SameSite=Lax{secure}"


def signed_out_cookie(*, https: bool) -> str:
    return session_cookie("", timedelta(0), https=https)


def current_session(settings: Settings, storage: Storage, cookies: dict[str, str] | None) -> ConsoleSession:
    """The session a cookie carries, if it is ours, unexpired and its record is still there
    (one small read per request: what makes signing out take effect at once)."""
    value = (cookies or {}).get(COOKIE, "")
    if not value:
        raise NotSignedIn("not signed in: open a sign-in link (facewatch console-link)")
    try:
        claim = verify_session(_secret(settings), value, now=datetime.now(UTC))
        record = storage.get_json(session_key(claim.household, claim.session_id))
    except BadInput as exc:  # BadToken, or an id no session of ours has
        raise NotSignedIn(str(exc)) from exc
    except ObjectMissing:
        raise NotSignedIn(
            "this session was signed out: open a new sign-in link (facewatch console-link)"
        ) from None
    if not isinstance(record, dict) or record.get("household") != claim.household:
        raise NotSignedIn("this session's record does not match it: open a new sign-in link")
    face = record.get("face")
    return ConsoleSession(claim, str(face) if face else None)


def sign_out(storage: Storage, session: ConsoleSession) -> None:
    storage.delete(session_key(session.household, session.claim.session_id))


def sign_out_everywhere(storage: Storage, household: str) -> int:
    """End every session of the household, on every browser: their records go."""
    keys = list(storage.list_keys(sessions_prefix(household)))
    for key in keys:
        storage.delete(key)
    return len(keys)


def form_token(settings: Settings, session: ConsoleSession) -> str:
    return csrf_token(_secret(settings), session.claim)


def check_form(settings: Settings, session: ConsoleSession, given: str | None) -> None:
    try:
        check_csrf(_secret(settings), session.claim, given)
    except BadToken as exc:
        raise Forbidden(str(exc)) from exc


def check_same_origin(settings: Settings, request: ConsoleRequest) -> None:
    """A POST must come from a page of the console itself, said by the browser before any
    body is read: Sec-Fetch-Site same-origin where the browser sends it (no page can set
    it), else an Origin that is the host the browser asked for (or the console's public
    URL). A program that sends neither header is not a browser another site could steer;
    its forms still need their CSRF token."""
    if request.fetch_site is not None:
        if request.fetch_site.strip().lower() == "same-origin":
            return
        raise Forbidden(
            f"a page of another site ({request.fetch_site}) cannot sign in or change anything here: "
            "open the console itself"
        )
    if request.origin is None:
        return
    ours = set(request.hosts)
    if settings.console_url:
        ours.add(urlsplit(settings.console_url).netloc.lower())
    origin = request.origin.strip().lower()
    if origin == "null" or urlsplit(origin).netloc not in ours:
        raise Forbidden(
            f"a page of another site ({request.origin}) cannot sign in or change anything here: "
            "open the console itself"
        )


def check_reach(session: ConsoleSession, method: str, path: str) -> None:
    """Before the body: a face-limited session reaches its face's page, pictures and
    naming, and signing out; nothing else."""
    if session.face is None:
        return
    allowed = FACE_ACTIONS | {"/signout"} if method == "POST" else FACE_PAGES | {"/"}
    if path not in allowed:
        raise Forbidden(LIMITED)


def check_face(session: ConsoleSession, verdict_id: str) -> None:
    """The face a request names is the face-limited session's own."""
    if session.face is not None and verdict_id.strip() != session.face:
        raise Forbidden(LIMITED)
