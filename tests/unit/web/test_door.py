"""The door's own parts: picture links (one picture of one household, until they expire)
and the trust in X-Forwarded-* (only from the configured proxies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from facewatch.exceptions import BadInput
from facewatch.frames import Box
from facewatch.tokens import BadToken, sign_face, sign_picture, verify_picture
from facewatch.web.door import _forwarded_only_from

SECRET = "s" * 48
NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEY = "households/home/frames/door/2026/12/01/x.jpg"


def test_a_picture_link_shows_its_picture_until_it_expires():
    token = sign_picture(SECRET, "home", KEY, now=NOW, ttl=timedelta(hours=1))
    claim = verify_picture(SECRET, token, now=NOW + timedelta(minutes=59))
    assert (claim.household, claim.key) == ("home", KEY)
    with pytest.raises(BadToken, match="expired"):
        verify_picture(SECRET, token, now=NOW + timedelta(hours=1))
    with pytest.raises(BadToken, match="signature"):
        verify_picture("o" * 48, token, now=NOW)
    body, _, mac = token.partition(".")
    with pytest.raises(BadToken):
        verify_picture(SECRET, body[:-2] + "xx." + mac, now=NOW)


def test_a_picture_link_is_for_its_own_household_and_nothing_else():
    with pytest.raises(BadInput):
        sign_picture(SECRET, "home", "households/other/frames/x.jpg", now=NOW, ttl=timedelta(hours=1))
    with pytest.raises(BadInput):
        sign_picture(SECRET, "home", "households/home/../other/x.jpg", now=NOW, ttl=timedelta(hours=1))
    frame = "households/home/frames/door/x.jpg"
    face = sign_face(SECRET, "home", frame, Box(1, 2, 3, 4), now=NOW, ttl=timedelta(1))
    with pytest.raises(BadToken):
        verify_picture(SECRET, face, now=NOW)


def _seen(trusted: tuple[str, ...], remote: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        return []

    environ = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "evil"}
    _forwarded_only_from(app, trusted)(environ, lambda *a: None)
    return seen


def test_forwarded_headers_are_believed_from_the_trusted_proxies_only():
    assert _seen(("10.0.0.0/8",), "10.1.2.3")["HTTP_X_FORWARDED_PROTO"] == "https"
    assert "HTTP_X_FORWARDED_PROTO" not in _seen(("10.0.0.0/8",), "192.168.1.7")
    assert "HTTP_X_FORWARDED_HOST" not in _seen((), "127.0.0.1")
