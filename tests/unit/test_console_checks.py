"""The console's checks made before a request's body is read, over plain requests: where a
POST comes from (login CSRF and CSRF by the browser's own headers) and what a session
opened by an alert's link may reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.config import Settings
from facewatch.tokens import Session
from facewatch.web.console.request import ConsoleRequest
from facewatch.web.console.session import ConsoleSession, check_face, check_reach, check_same_origin
from facewatch.web.transport import Forbidden

FACE = "home/door/20261125/120000000000-abcdef123456#0"
SETTINGS = Settings(_env_file=None, bucket="b", console_url="https://console.example/")  # type: ignore[call-arg]


def post(**headers: object) -> ConsoleRequest:
    return ConsoleRequest("POST", "/signin", hosts=("127.0.0.1:8080",), **headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "request_",
    [
        post(),  # a program, not a browser: its forms still need their CSRF token
        post(fetch_site="same-origin"),
        post(fetch_site="same-origin", origin="null"),  # the browser's word is Sec-Fetch-Site
        post(origin="http://127.0.0.1:8080"),
        post(origin="https://console.example"),  # behind a proxy that keeps the Host
    ],
    ids=["no-headers", "same-origin", "same-origin-null", "own-origin", "public-url"],
)
def test_a_post_from_the_console_itself_passes(request_):
    check_same_origin(SETTINGS, request_)


@pytest.mark.parametrize(
    "request_",
    [
        post(fetch_site="cross-site"),
        post(fetch_site="same-site"),
        post(fetch_site="none"),
        post(fetch_site="cross-site", origin="http://127.0.0.1:8080"),
        post(origin="https://evil.example"),
        post(origin="http://127.0.0.1:9999"),
        post(origin="null"),
        post(origin="https://console.example.evil.example"),
    ],
    ids=["cross-site", "same-site", "none", "cross-site-own-origin", "evil", "other-port", "null", "suffix"],
)
def test_a_post_from_another_site_is_refused_before_its_body(request_):
    with pytest.raises(Forbidden, match="another site"):
        check_same_origin(SETTINGS, request_)


def session(face: str | None) -> ConsoleSession:
    return ConsoleSession(
        Session("home", "1767323045-abcdefghijklmnop", datetime.now(UTC) + timedelta(hours=1)), face
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/face"),
        ("GET", "/image/face"),
        ("GET", "/image/frame"),
        ("GET", "/"),
        ("POST", "/faces/is"),
        ("POST", "/faces/not"),
        ("POST", "/signout"),
    ],
)
def test_a_face_only_session_reaches_its_face_its_naming_and_signing_out(method, path):
    check_reach(session(FACE), method, path)
    check_face(session(FACE), f" {FACE} ")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/faces"),
        ("GET", "/people"),
        ("GET", "/settings"),
        ("GET", "/stranger"),
        ("GET", "/image/crop"),
        ("GET", "/image/photo"),
        ("POST", "/faces/look-again"),
        ("POST", "/strangers/name"),
        ("POST", "/settings"),
        ("POST", "/people/add"),
        ("POST", "/signout-everywhere"),
    ],
)
def test_a_face_only_session_reaches_nothing_else(method, path):
    with pytest.raises(Forbidden, match="console link"):
        check_reach(session(FACE), method, path)
    check_reach(session(None), method, path)  # a console link's session reaches it all


def test_a_face_only_session_reaches_no_other_face():
    with pytest.raises(Forbidden, match="console link"):
        check_face(session(FACE), FACE.replace("#0", "#1"))
    check_face(session(None), FACE.replace("#0", "#1"))
