"""Signing in without passwords to store: a one-time link (tokens.sign_in_link) is spent by
a POST, never by the GET a mail scanner makes, and becomes a signed session cookie bound to
one household. Every form of the session carries a CSRF token bound to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from facewatch.config import Settings
from facewatch.exceptions import BadInput, WriteConflict
from facewatch.layout import used_link_key
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
from facewatch.web.transport import Forbidden, Unauthorized

COOKIE = "facewatch_session"


class NotSignedIn(Unauthorized):
    """No session, or one that is not valid: the browser must sign in by a new link."""


class LinkSpent(BadInput):
    pass


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
    session: Session
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
    return SignedIn(session, session_cookie(value, ttl, https=https), claim.next_path)


def session_cookie(value: str, ttl: timedelta, *, https: bool) -> str:
    secure = "; Secure" if https else ""
    return f"{COOKIE}={value}; Max-Age={int(ttl.total_seconds())}; Path=/; HttpOnly; SameSite=Lax{secure}"


def signed_out_cookie(*, https: bool) -> str:
    return session_cookie("", timedelta(0), https=https)


def current_session(settings: Settings, cookies: dict[str, str] | None) -> Session:
    value = (cookies or {}).get(COOKIE, "")
    if not value:
        raise NotSignedIn("not signed in: open a sign-in link (facewatch console-link)")
    try:
        return verify_session(_secret(settings), value, now=datetime.now(UTC))
    except BadToken as exc:
        raise NotSignedIn(str(exc)) from exc


def form_token(settings: Settings, session: Session) -> str:
    return csrf_token(_secret(settings), session)


def check_form(settings: Settings, session: Session, given: str | None) -> None:
    try:
        check_csrf(_secret(settings), session, given)
    except BadToken as exc:
        raise Forbidden(str(exc)) from exc
