"""Signed, expiring tokens, HMAC-SHA256 with the deployment's link secret, each kind under
its own purpose string so that no token of one kind is ever taken for another:

- a face link ("I know this person" in an alert email) names one face of one frame of one
  household and can do nothing but enroll that face;
- a sign-in link lets one browser into one household's console, once, until it expires:
  the whole console (`facewatch console-link`), or one face and its naming (the console
  link in an alert email);
- a session (the console's cookie) names the household it was signed in to and the
  session record (kept by the console) that must still exist for it to work;
- a CSRF token is bound to one session;
- a picture link (an alert's frame or face, through `facewatch up`'s door) names one object
  of one household and shows that picture only, until it expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from facewatch.exceptions import BadInput
from facewatch.frames import Box
from facewatch.layout import FrameKey, check_id, household_prefix


class BadToken(BadInput):
    pass


@dataclass(frozen=True, slots=True)
class FaceClaim:
    household: str
    frame_key: str
    box: Box
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, b"facewatch-face-v1." + body.encode(), hashlib.sha256).digest())


def sign_face(secret: str, household: str, frame_key: str, box: Box, *, now: datetime, ttl: timedelta) -> str:
    payload = {"h": household, "k": frame_key, "b": box.as_list(), "e": int((now + ttl).timestamp())}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(secret.encode(), body)}"


def verify_face(secret: str, token: str, *, now: datetime) -> FaceClaim:
    """The claim a token carries; BadToken if it was not made with our secret, was changed,
    has expired, or names a frame outside its household."""
    body, dot, mac = (token or "").strip().partition(".")
    if not dot or not hmac.compare_digest(mac.encode(), _mac(secret.encode(), body).encode()):
        raise BadToken("invalid link: its signature does not match")
    try:
        payload = json.loads(_unb64(body))
        claim = FaceClaim(
            household=check_id(payload["h"], "household"),
            frame_key=str(payload["k"]),
            box=Box(*(int(v) for v in payload["b"])),
            expires=datetime.fromtimestamp(int(payload["e"]), tz=now.tzinfo),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadToken("invalid link: malformed token") from exc
    if now >= claim.expires:
        raise BadToken("this link has expired")
    if FrameKey.parse(claim.frame_key).household != claim.household:
        raise BadToken("invalid link: frame and household disagree")
    return claim


def _signed(secret: str, purpose: bytes, payload: dict[str, object]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = _b64(hmac.new(secret.encode(), purpose + body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def _opened(secret: str, purpose: bytes, token: str, what: str) -> dict[str, object]:
    body, dot, mac = (token or "").strip().partition(".")
    expected = _b64(hmac.new(secret.encode(), purpose + body.encode(), hashlib.sha256).digest())
    if not dot or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise BadToken(f"invalid {what}: its signature does not match")
    try:
        payload = json.loads(_unb64(body))
    except ValueError as exc:
        raise BadToken(f"invalid {what}: malformed") from exc
    if not isinstance(payload, dict):
        raise BadToken(f"invalid {what}: malformed")
    return payload


_SIGN_IN = b"facewatch-signin-v1."
_SESSION = b"facewatch-session-v1."
_CSRF = b"facewatch-csrf-v1."
_PICTURE = b"facewatch-picture-v1."


@dataclass(frozen=True, slots=True)
class PictureClaim:
    household: str
    key: str
    expires: datetime


def sign_picture(secret: str, household: str, key: str, *, now: datetime, ttl: timedelta) -> str:
    """A link token to one picture (a key under the household's prefix) until now + ttl."""
    if not key.startswith(household_prefix(household)) or ".." in key.split("/"):
        raise BadInput(f"{key!r} is not a picture of household {household}")
    payload = {"h": check_id(household, "household"), "k": key, "e": int((now + ttl).timestamp())}
    return _signed(secret, _PICTURE, payload)


def verify_picture(secret: str, token: str, *, now: datetime) -> PictureClaim:
    payload = _opened(secret, _PICTURE, token, "picture link")
    try:
        household = check_id(str(payload["h"]), "household")
        claim = PictureClaim(
            household, str(payload["k"]), datetime.fromtimestamp(int(str(payload["e"])), tz=now.tzinfo)
        )
    except (ValueError, KeyError, TypeError, BadInput) as exc:
        raise BadToken("invalid picture link: malformed") from exc
    if not claim.key.startswith(household_prefix(household)) or ".." in claim.key.split("/"):
        raise BadToken("invalid picture link: picture and household disagree")
    if now >= claim.expires:
        raise BadToken("this picture link has expired")
    return claim


@dataclass(frozen=True, slots=True)
class SignIn:
    household: str
    expires: datetime
    next_path: str
    """Where the console goes once signed in (a path of the console, never another site)."""
    signature: str
    """Names this one link, for recording its single use."""
    face: str | None = None
    """The one face (a verdict id of the household) the session it opens may see and name:
    an alert's link. None: the whole console."""


def face_path(verdict_id: str) -> str:
    """The console's page of one face (where an alert's link leads)."""
    from urllib.parse import quote

    return "/face?id=" + quote(verdict_id, safe="")


def visit_path(verdict_id: str) -> str:
    """The console's page of the visit a face belongs to: where an alert's link leads."""
    from urllib.parse import quote

    return "/visit?id=" + quote(verdict_id, safe="")


def _local_path(path: str) -> str:
    # Only a path of the console itself: "//evil.example" or "https://…" would send a
    # freshly signed-in browser to another site. Browsers drop tabs and newlines from a URL
    # and read "\\" as "/", so "/\t/evil.example" is "//evil.example" to them: a path with
    # any whitespace or control character is refused whole, not cleaned.
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    if any(c.isspace() or not c.isprintable() for c in path):
        return "/"
    return path


def sign_in_link(
    secret: str,
    household: str,
    *,
    now: datetime,
    ttl: timedelta,
    next_path: str = "/",
    face: str | None = None,
) -> str:
    """A one-time sign-in token for `household`'s console (its single use is recorded by
    the console, under layout.used_link_key, when the link is spent). With `face` (a verdict
    id of that household), the session it opens shows that face and its naming only, and
    the link leads there."""
    payload: dict[str, object] = {
        "h": check_id(household, "household"),
        "n": _b64(secrets.token_bytes(12)),
        "e": int((now + ttl).timestamp()),
        "p": _local_path(next_path),
    }
    if face is not None:
        face = face.strip()
        if FrameKey.from_verdict_id(face)[0].household != household:
            raise BadInput(f"face {face!r} is not of household {household}")
        payload.update(f=face, p=visit_path(face))
    return _signed(secret, _SIGN_IN, payload)


def verify_sign_in(secret: str, token: str, *, now: datetime) -> SignIn:
    payload = _opened(secret, _SIGN_IN, token, "sign-in link")
    try:
        household = check_id(str(payload["h"]), "household")
        next_path = _local_path(str(payload.get("p", "/")))
        face = _face_of(household, payload.get("f"), next_path)
        claim = SignIn(
            household=household,
            expires=datetime.fromtimestamp(int(str(payload["e"])), tz=now.tzinfo),
            next_path=visit_path(face) if face else next_path,
            signature=token.strip().partition(".")[2],
            face=face,
        )
    except (ValueError, KeyError, TypeError, BadInput) as exc:
        raise BadToken("invalid sign-in link: malformed") from exc
    if now >= claim.expires:
        raise BadToken("this sign-in link has expired")
    return claim


def _face_of(household: str, given: object, next_path: str) -> str | None:
    """The face a sign-in link is limited to. Alert emails sent before links carried one
    signed in to the whole console and opened the face's page (next path /face?id=…): such
    a link, still unexpired in a mailbox, now opens that face only, like the new ones."""
    if given is None and next_path.startswith("/face?id="):
        from urllib.parse import parse_qs, urlsplit

        given = (parse_qs(urlsplit(next_path).query).get("id") or [""])[0]
    if given is None:
        return None
    face = str(given).strip()
    if FrameKey.from_verdict_id(face)[0].household != household:
        raise ValueError("the face is of another household")
    return face


@dataclass(frozen=True, slots=True)
class Session:
    household: str
    session_id: str
    expires: datetime


def sign_session(secret: str, household: str, *, now: datetime, ttl: timedelta) -> tuple[str, Session]:
    """A new session's cookie value, and the session it carries. Its id starts with its
    expiry (epoch seconds), so expired records can be found by name and removed."""
    expires = now + ttl
    session_id = f"{int(expires.timestamp())}-{_b64(secrets.token_bytes(16))}"
    session = Session(check_id(household, "household"), session_id, expires)
    payload = {"h": session.household, "s": session.session_id, "e": int(session.expires.timestamp())}
    return _signed(secret, _SESSION, payload), session


def verify_session(secret: str, cookie: str, *, now: datetime) -> Session:
    payload = _opened(secret, _SESSION, cookie, "session")
    try:
        session = Session(
            household=check_id(str(payload["h"]), "household"),
            session_id=str(payload["s"]),
            expires=datetime.fromtimestamp(int(str(payload["e"])), tz=now.tzinfo),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadToken("invalid session: malformed") from exc
    if now >= session.expires:
        raise BadToken("this session has expired: sign in again")
    return session


def csrf_token(secret: str, session: Session) -> str:
    """The token every form of a session carries: bound to that session, so a page of
    another site cannot make a signed-in browser change anything."""
    return _b64(hmac.new(secret.encode(), _CSRF + session.session_id.encode(), hashlib.sha256).digest())


def check_csrf(secret: str, session: Session, given: str | None) -> None:
    if not given or not hmac.compare_digest(given.encode(), csrf_token(secret, session).encode()):
        raise BadToken("the form's CSRF token is missing or wrong: reload the page and try again")


def household_detect_token(secret: str, household: str, camera: str | None = None) -> str:
    """The bearer token a household's cameras present to detect when tokens are per
    household (Settings.detect_token_scope): HMAC-SHA256 of the household id with the
    deployment's detect token, so nothing needs storing and one household's token says
    nothing about another's. With `camera` (scope `camera`): the token of that one camera
    name, which files nothing under the household's other cameras either."""
    household = check_id(household, "household")
    name = household if camera is None else f"{household}/{check_id(camera, 'camera')}"
    return _b64(hmac.new(secret.encode(), b"facewatch-detect-v1." + name.encode(), hashlib.sha256).digest())
