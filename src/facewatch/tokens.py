"""Signed, expiring tokens for the links in an alert email ("I know this person"). A token
names one face of one frame of one household and nothing else; it needs no login and can
do nothing but enroll that face. HMAC-SHA256 with the deployment's link secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from facewatch.exceptions import BadInput
from facewatch.frames import Box
from facewatch.layout import FrameKey, check_id


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


def household_detect_token(secret: str, household: str) -> str:
    """The bearer token a household's cameras present to detect when tokens are per
    household (Settings.detect_token_scope): HMAC-SHA256 of the household id with the
    deployment's detect token, so nothing needs storing and one household's token says
    nothing about another's."""
    household = check_id(household, "household")
    return _b64(
        hmac.new(secret.encode(), b"facewatch-detect-v1." + household.encode(), hashlib.sha256).digest()
    )
