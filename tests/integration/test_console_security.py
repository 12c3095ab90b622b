"""The console's refusals, over HTTP against the real console process: sign-in links that
are missing, expired, reused, forged or of another household; tampered session cookies;
forms without their CSRF token; a session of one household asking for another's faces,
photos, crops or strangers; uploads that are not images, too big, or decompression bombs.
Each gets a clear page and a 4xx, and nothing in the bucket changes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import numpy as np
import pytest
import requests
from PIL import Image

from facewatch.tokens import sign_in_link, sign_session
from tests.conftest import TESTDATA, run_cli
from tests.console_site import SECRET, csrf, refused, sign_in, token_of

pytestmark = pytest.mark.integration


def test_the_sign_in_page_spends_nothing_and_the_post_spends_the_link_once(site):
    link = site.link()
    for _ in range(2):  # a mail scanner fetching the link, then the person
        page = requests.get(link)
        assert page.status_code == 200 and 'action="/signin"' in page.text
    before = site.objects()
    first = requests.post(f"{site.url}signin", data={"token": token_of(link)}, allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == "/"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain http here; behind https it is marked Secure
    spent = sorted(set(site.objects()) - set(before))
    assert len(spent) == 2  # the link's used-mark, and the session's record
    assert spent[0].startswith("households/home/links/used/")
    assert spent[1].startswith("households/home/sessions/")
    again = requests.post(f"{site.url}signin", data={"token": token_of(link)}, allow_redirects=False)
    refused(again, 409, "already used")
    refused(requests.get(link), 409, "already used")


def test_behind_https_the_session_cookie_is_secure(site):
    reply = requests.post(
        f"{site.url}signin",
        data={"token": token_of(site.link())},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    assert reply.status_code == 303 and "; Secure" in reply.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("token", "status", "words"),
    [
        ("", 400, "signature does not match"),
        ("garbage.more-garbage", 400, "signature does not match"),
        (
            sign_in_link("another-deployments-secret", "home", now=datetime.now(UTC), ttl=timedelta(hours=1)),
            400,
            "signature",
        ),
        (
            sign_in_link(SECRET, "home", now=datetime.now(UTC) - timedelta(hours=2), ttl=timedelta(hours=1)),
            400,
            "expired",
        ),
    ],
    ids=["missing", "garbage", "forged", "expired"],
)
def test_bad_sign_in_links_are_refused_and_change_nothing(site, token, status, words):
    before = site.objects()
    refused(requests.get(f"{site.url}signin", params={"token": token}), status, words)
    refused(requests.post(f"{site.url}signin", data={"token": token}, allow_redirects=False), status, words)
    assert site.objects() == before


def test_a_link_of_another_household_signs_in_to_that_household_only(site):
    http = sign_in(site, "next-door")
    page = http.get(f"{site.url}faces").text
    assert "next-door" in page and "gate" in page and "street" not in page


def test_a_redirect_after_sign_in_stays_on_the_console(site):
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        token = sign_in_link(SECRET, "home", now=datetime.now(UTC), ttl=timedelta(hours=1), next_path=evil)
        reply = requests.post(f"{site.url}signin", data={"token": token}, allow_redirects=False)
        assert reply.headers["Location"] == "/"


def test_no_page_or_picture_is_served_without_a_session_or_with_a_tampered_one(site):
    value, _ = sign_session(SECRET, "home", now=datetime.now(UTC), ttl=timedelta(hours=1))
    body, _, mac = value.partition(".")
    forged, _ = sign_session("not-our-secret", "home", now=datetime.now(UTC), ttl=timedelta(hours=1))
    expired, _ = sign_session(
        SECRET, "home", now=datetime.now(UTC) - timedelta(days=2), ttl=timedelta(hours=1)
    )
    other_body = sign_session(SECRET, "next-door", now=datetime.now(UTC), ttl=timedelta(hours=1))[
        0
    ].partition(".")[0]
    verdict = site.strangers()[0].recent[0].verdict_id
    for cookie in (None, "", f"{body}.{mac[:-2]}xx", f"{other_body}.{mac}", forged, expired):
        http = requests.Session()
        if cookie is not None:
            http.cookies.set("facewatch_session", cookie)
        for path in (
            "faces",
            "strangers",
            "people",
            "cameras",
            "settings",
            f"image/face?id={quote(verdict)}",
        ):
            refused(http.get(f"{site.url}{path}"), 401, "sign")


def test_forms_without_the_right_csrf_token_change_nothing(site):
    http = sign_in(site)
    stranger = site.strangers()[0].stranger_id
    other = sign_in(site)
    wrong = csrf(other, site)  # a real token, of another session
    before = site.objects()
    for token in (None, "", "nonsense", wrong):
        data = {"stranger_id": stranger, "name": "mallory"}
        if token is not None:
            data["csrf"] = token
        refused(http.post(f"{site.url}strangers/name", data=data, allow_redirects=False), 403, "CSRF")
    assert site.objects() == before
    assert stranger in {s.stranger_id for s in site.strangers()}


def test_a_session_never_reaches_another_households_faces_photos_crops_or_strangers(site):
    http = sign_in(site, "home")
    token = csrf(http, site)
    theirs = site.strangers("next-door")[0]
    verdict = theirs.recent[0].verdict_id
    photo = next(iter(site.storage.list_keys("households/next-door/known/")))
    # a key under our own strangers/ that climbs out of it into theirs
    climbing = "households/home/strangers/../../next-door/" + theirs.crop_keys[0].split("/", 2)[2]
    before = site.objects()
    for path, words in [
        (f"image/face?id={quote(verdict)}", "another household"),
        (f"image/frame?id={quote(verdict)}", "another household"),
        (f"image/crop?key={quote(theirs.crop_keys[0])}", "another household"),
        (f"image/photo?key={quote(photo)}", "another household"),
        (f"image/crop?key={quote(climbing)}", "another household"),
        (f"face?id={quote(verdict)}", "another household"),
    ]:
        refused(http.get(f"{site.url}{path}"), 403, words)
    refused(http.get(f"{site.url}stranger", params={"id": theirs.stranger_id}), 400, "remembers no stranger")
    for path, data in [
        ("faces/is", {"verdict_id": verdict, "name": "mallory"}),
        ("faces/not", {"verdict_id": verdict, "name": "obama"}),
        ("strangers/split", {"stranger_id": theirs.stranger_id, "verdict_id": verdict}),
        ("people/remove-photo", {"photo_key": photo}),
    ]:
        refused(
            http.post(f"{site.url}{path}", data={**data, "csrf": token}, allow_redirects=False),
            403,
            "another household",
        )
    for path, data in [
        ("strangers/forget", {"stranger_id": theirs.stranger_id}),
        ("strangers/name", {"stranger_id": theirs.stranger_id, "name": "mallory"}),
    ]:
        refused(
            http.post(f"{site.url}{path}", data={**data, "csrf": token}, allow_redirects=False),
            400,
            "remembers no stranger",
        )
    assert site.objects() == before


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(out, format="PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("notes.jpg", b"this is not a picture", 400, "not"),
        ("bomb.png", _png(12_000, 12_000), 400, "pixel"),
        ("empty-wall.png", _png(640, 480), 400, "no face"),
    ],
    ids=["not-an-image", "decompression-bomb", "no-face"],
)
def test_uploads_that_are_not_good_photos_are_refused_and_nothing_is_kept(site, name, data, status, words):
    http = sign_in(site)
    token = csrf(http, site, "people")
    before = site.objects()
    reply = http.post(
        f"{site.url}people/add",
        data={"csrf": token, "name": "someone"},
        files={"photos": (name, data)},
        allow_redirects=False,
    )
    refused(reply, status, words)
    assert site.objects() == before


def test_an_upload_over_the_size_limit_is_refused(site):
    http = sign_in(site)
    token = csrf(http, site, "people")
    before = site.objects()
    photo = (TESTDATA / "known" / "biden" / "biden.jpg").read_bytes()
    huge = photo + b"\0" * (21 * 1024 * 1024)  # 21 MB after the JPEG's end: over the 20 MB limit
    reply = http.post(
        f"{site.url}people/add", data={"csrf": token, "name": "biden"}, files={"photos": ("big.jpg", huge)}
    )
    refused(reply, 413, "limit")
    assert site.objects() == before


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--ttl", "15m"], {"FACEWATCH_CONSOLE_URL": ""}, "FACEWATCH_CONSOLE_URL is not set"),
        (["--ttl", "15m"], {"FACEWATCH_LINK_SECRET": ""}, "FACEWATCH_LINK_SECRET is not set"),
        (["--ttl", "30d"], {}, "at most 7d"),
        (["--ttl", "soon"], {}, "use e.g. 15m"),
    ],
    ids=["no-console-url", "no-secret", "ttl-too-long", "ttl-unreadable"],
)
def test_console_link_refuses_what_it_cannot_sign(site, args, env, words):
    given = {"FACEWATCH_LINK_SECRET": SECRET, "FACEWATCH_CONSOLE_URL": site.url, **env}
    given = {k: v for k, v in given.items() if v}
    done = run_cli(site.storage, "console-link", "--household", "home", *args, env=given)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert done.stdout == ""


def test_console_link_prints_a_link_that_signs_in_once(site):
    env = {"FACEWATCH_LINK_SECRET": SECRET, "FACEWATCH_CONSOLE_URL": site.url}
    done = run_cli(site.storage, "console-link", "--household", "home", "--ttl", "2m", env=env)
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    first = requests.post(f"{site.url}signin", data={"token": token_of(link)}, allow_redirects=False)
    assert first.status_code == 303
    refused(requests.post(f"{site.url}signin", data={"token": token_of(link)}), 409, "already used")
