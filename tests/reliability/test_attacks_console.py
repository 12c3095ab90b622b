"""The household console attacked (issue 24, items 5 and 6), against the real console
process on a real S3 server and, where a browser decides, the real Chromium: uploads sent
before any session is shown, huge or with too many files; cookies replayed after signing
out, and after "sign out everywhere"; another site posting a sign-in link (login CSRF); a
mail scanner that runs the sign-in page's scripts; and an alert's link used for more than
its one face. Each attack is counted in the figures (attacks_tried, attack_bypasses), must
be refused, and leaves the bucket as it was."""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from facewatch.local.processes import Process, free_port, function_process, functions_dir
from facewatch.tokens import sign_in_link
from tests.conftest import TESTDATA
from tests.console_site import SECRET, Site
from tests.reliability.attacker import attacked, chunk, status_within

pytestmark = pytest.mark.integration
PHOTO = (TESTDATA / "known" / "biden" / "biden.jpg").read_bytes()
MB = 1024 * 1024


# --- the attacker's tools ------------------------------------------------------------------


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def sign_in(site: Site, household: str = "home", link: str | None = None) -> requests.Session:
    http = requests.Session()
    token = token_of(link or site.link(household))
    reply = http.post(f"{site.url}signin", data={"token": token}, allow_redirects=False)
    assert reply.status_code == 303, reply.text
    return http


def csrf(http: requests.Session, site: Site, path: str = "faces") -> str:
    page = http.get(f"{site.url}{path}")
    assert page.status_code == 200, page.text[:300]
    marker = 'name="csrf" value="'
    return page.text[page.text.index(marker) + len(marker) :].split('"', 1)[0]


def cookie_of(http: requests.Session) -> str:
    return http.cookies["facewatch_session"]


def replayed(site: Site, cookie: str) -> requests.Session:
    """Another machine with a copy of the cookie."""
    http = requests.Session()
    http.cookies.set("facewatch_session", cookie)
    return http


def part(name: str, data: bytes, filename: str | None = None, boundary: str = "attack") -> bytes:
    file = f'; filename="{filename}"\r\nContent-Type: image/jpeg' if filename else ""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{file}\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )


def open_chunked_post(url: str, path: str, cookie: str = "", boundary: str = "attack") -> socket.socket:
    """A multipart POST whose length nobody knows (chunked): the head only, so far."""
    where = urlsplit(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        + (f"Cookie: facewatch_session={cookie}\r\n" if cookie else "")
        + "\r\n"
    )
    sock.sendall(head.encode())
    return sock


def stream_parts(sock: socket.socket, parts: int, size: int) -> int:
    """Keep sending photo parts of `size` bytes; what the server took before it stopped
    reading or hung up (either ends the attack)."""
    sent = 0
    sock.settimeout(20)
    block = b"\xff" * MB
    try:
        for i in range(parts):
            sock.sendall(chunk(part("photos", b"", f"p{i}.jpg")[:-2]))
            for _ in range(size // MB):
                sock.sendall(chunk(block))
                sent += MB
            sock.sendall(chunk(b"\r\n"))
        sock.sendall(chunk(b"--attack--\r\n") + b"0\r\n\r\n")
    except OSError:  # reset, broken pipe, or a server that stopped reading
        pass
    return sent


@pytest.fixture
def fresh_console(site: Site, tmp_path: Path) -> Iterator[Process]:
    """A console process of its own on the site's bucket: its peak memory is this test's."""
    port = free_port()
    env = {**site.process.env, "FACEWATCH_CONSOLE_URL": f"http://127.0.0.1:{port}/"}
    process = function_process("console", port, functions_dir(), env, tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


# --- uploads -------------------------------------------------------------------------------


def test_an_unauthenticated_chunked_upload_is_answered_before_its_body_and_memory_stays_flat(
    site, fresh_console, figures
):
    url = fresh_console.url
    assert url is not None
    requests.get(f"{url}signin", params={"token": "warm-up"}, timeout=30)  # imports, templates
    with contextlib.closing(open_chunked_post(url, "/people/add")) as warm:
        warm.sendall(chunk(part("name", b"x")) + chunk(b"--attack--\r\n") + b"0\r\n\r\n")
        status_within(warm, 30)
    before = site.objects()
    baseline = fresh_console.peak_rss_mb()
    with contextlib.closing(open_chunked_post(url, "/people/add")) as sock:
        sock.sendall(chunk(part("name", b"mallory")))
        answer = status_within(sock, 10)  # the rest of the body is not sent yet
        attacked(figures, answer != 401)
        assert answer == 401, f"no refusal before the body was sent (got {answer})"
        stream_parts(sock, parts=5, size=20 * MB)  # 100 MB more, should anyone read it
    time.sleep(1)
    grown = fresh_console.peak_rss_mb() - baseline
    attacked(figures, grown > 40)
    assert grown < 40, f"the console's peak memory grew by {grown:.0f} MB"
    assert site.objects() == before


def test_a_file_smuggled_into_a_form_that_takes_none_is_refused(site, figures):
    http = sign_in(site)
    token = csrf(http, site, "settings")
    before = site.objects()
    reply = http.post(
        f"{site.url}settings",
        data={"csrf": token, "channel_email": "on", "mail_to": "mallory@evil.example"},
        files={"extra": ("big.jpg", b"\0" * (3 * MB))},
        allow_redirects=False,
    )
    attacked(figures, reply.status_code < 400)
    assert reply.status_code in (400, 413), reply.status_code
    assert site.objects() == before


def test_more_files_than_an_upload_may_carry_are_refused_unread(site, figures):
    http = sign_in(site)
    token = csrf(http, site, "people")
    before = site.objects()
    files = [("photos", (f"biden-{i}.jpg", PHOTO)) for i in range(11)]
    reply = http.post(
        f"{site.url}people/add", data={"csrf": token, "name": "biden"}, files=files, allow_redirects=False
    )
    attacked(figures, reply.status_code < 400)
    assert reply.status_code == 413 and "at most 10" in reply.text, (reply.status_code, reply.text[:300])
    assert site.objects() == before


def test_a_form_of_hundreds_of_parts_is_cut_off(site, figures):
    http = sign_in(site)
    token = csrf(http, site, "settings")
    before = site.objects()
    fields = [("csrf", token), ("channel_email", "on")] + [(f"f{i}", "x") for i in range(900)]
    body = b"".join(part(name, value.encode()) for name, value in fields) + b"--attack--\r\n"
    reply = http.post(
        f"{site.url}settings",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=attack"},
        allow_redirects=False,
    )
    attacked(figures, reply.status_code < 400)
    assert reply.status_code == 413 and "parts" in reply.text, (reply.status_code, reply.text[:300])
    assert site.objects() == before


# --- sessions ------------------------------------------------------------------------------


def test_a_cookie_copied_before_signing_out_works_no_more(site, figures):
    http = sign_in(site)
    token = csrf(http, site)
    copied = cookie_of(http)
    stranger = site.strangers()[0]
    out = http.post(f"{site.url}signout", data={"csrf": token}, allow_redirects=False)
    assert out.status_code == 303
    before = site.objects()
    thief = replayed(site, copied)
    for reply in (
        thief.get(f"{site.url}faces"),
        thief.get(f"{site.url}image/face", params={"id": stranger.recent[0].verdict_id}),
        thief.post(
            f"{site.url}strangers/name",
            data={"csrf": token, "stranger_id": stranger.stranger_id, "name": "mallory"},
            allow_redirects=False,
        ),
    ):
        attacked(figures, reply.status_code != 401)
        assert reply.status_code == 401 and "signed out" in reply.text, reply.status_code
    assert site.objects() == before


def test_sign_out_everywhere_ends_every_session_of_the_household_and_only_its(site, figures):
    here, there, next_door = sign_in(site), sign_in(site), sign_in(site, "next-door")
    there_token = csrf(there, site)
    out = here.post(f"{site.url}signout-everywhere", data={"csrf": csrf(here, site, "settings")})
    before = site.objects()
    stranger = site.strangers()[0]
    for reply in (
        there.get(f"{site.url}people"),
        there.post(
            f"{site.url}strangers/forget",
            data={"csrf": there_token, "stranger_id": stranger.stranger_id},
            allow_redirects=False,
        ),
    ):
        attacked(figures, reply.status_code != 401)
        assert reply.status_code == 401, reply.status_code
    assert site.objects() == before
    assert out.status_code == 200 and "signed out" in out.text.lower()
    assert list(site.storage.list_keys("households/home/sessions/")) == []
    assert "gate" in next_door.get(f"{site.url}faces").text  # next door is still signed in


# --- signing in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
    ],
    ids=["other-origin", "null-origin", "cross-site", "same-site-other-port"],
)
def test_another_site_cannot_post_a_sign_in_link(site, figures, headers):
    link = site.link()  # the attacker's own household's link, to plant it on the victim
    before = site.objects()
    reply = requests.post(
        f"{site.url}signin", data={"token": token_of(link)}, headers=headers, allow_redirects=False
    )
    attacked(figures, reply.status_code < 400 or "Set-Cookie" in reply.headers)
    assert reply.status_code == 403 and "another site" in reply.text, (reply.status_code, reply.text[:300])
    assert site.objects() == before  # the link is not spent


class AttackerSite:
    """A page of another site (localhost, while the console is 127.0.0.1) that posts a
    sign-in link of the attacker's household to the console as soon as it loads."""

    def __init__(self, console_url: str, token: str) -> None:
        page = (
            f'<!doctype html><form id="f" method="post" action="{console_url}signin">'
            f'<input type="hidden" name="token" value="{token}"></form>'
            '<script>document.getElementById("f").submit()</script>'
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_page_of_another_site_cannot_sign_a_browser_in(site, page, figures):
    link = site.link()
    attacker = AttackerSite(site.url, token_of(link))
    before = site.objects()
    try:
        page.expect_status(403, "/signin")
        page.goto(attacker.url)
        page.wait_for_url(re.compile("^" + re.escape(site.url)))  # the console's answer, whatever it is
        page.wait_for_load_state("load")
    finally:
        attacker.close()
    signed_in = any(c["name"] == "facewatch_session" and c["value"] for c in page.context.cookies())
    attacked(figures, signed_in)
    assert not signed_in, page.url
    assert "another site" in page.locator("#message").inner_text()
    assert site.objects() == before


def test_a_mail_scanner_that_runs_scripts_does_not_spend_the_link(site, page, figures):
    link = site.link()
    before = site.objects()
    page.goto(link)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(3000)  # whatever a script would do, it has done
    spent = site.objects() != before or page.url != link
    attacked(figures, spent)
    assert not spent, page.url
    assert page.locator("#signin button").is_visible()
    # the person it was sent to still signs in with it
    assert (
        requests.post(f"{site.url}signin", data={"token": token_of(link)}, allow_redirects=False).status_code
        == 303
    )


# --- an alert's link -----------------------------------------------------------------------


def alert_link(site: Site, verdict_id: str) -> str:
    """The console link notify puts in the alert email of this face."""
    from facewatch.alerts.links import alert_links
    from facewatch.config import Settings
    from facewatch.records import Alert, FaceVerdict
    from facewatch.web.console.views import one_face

    row = one_face(site.storage, verdict_id.split("/", 1)[0], verdict_id)
    alert = Alert.model_validate(
        {
            "alert_id": "a1",
            "household": verdict_id.split("/", 1)[0],
            "camera": row.camera,
            "bucket": site.storage.bucket,
            "frame_key": row.frame_key,
            "captured_at": row.captured_at,
            "faces_in_frame": 1,
            "strangers": [FaceVerdict(box=row.box, verdict="stranger", verdict_id=verdict_id)],
        }
    )
    settings = Settings(_env_file=None, bucket=site.storage.bucket, link_secret=SECRET, console_url=site.url)  # type: ignore[call-arg]
    link = alert_links(alert, site.storage, settings, datetime.now(UTC)).console_url
    assert link is not None
    return link


def test_an_alerts_link_reaches_its_face_and_nothing_else(site, figures):
    strangers = site.strangers()
    face = strangers[0].recent[-1].verdict_id
    other = strangers[1].recent[-1].verdict_id
    theirs = site.strangers("next-door")[0]
    their_face = theirs.recent[0].verdict_id
    photo = next(iter(site.storage.list_keys("households/home/known/")))
    http = sign_in(site, link=alert_link(site, face))
    token = csrf(http, site, f"face?id={quote(face, safe='')}")
    assert http.get(f"{site.url}image/face", params={"id": face}).status_code == 200  # its own face
    before = site.objects()
    gets = [
        "faces",
        "strangers",
        "people",
        "cameras",
        "settings",
        f"stranger?id={strangers[0].stranger_id}",
        f"face?id={quote(other, safe='')}",
        f"image/face?id={quote(other, safe='')}",
        f"image/frame?id={quote(other, safe='')}",
        f"image/crop?key={quote(strangers[1].crop_keys[0], safe='')}",
        f"image/photo?key={quote(photo, safe='')}",
        f"face?id={quote(their_face, safe='')}",
        f"image/face?id={quote(their_face, safe='')}",
    ]
    for path in gets:
        reply = http.get(f"{site.url}{path}", allow_redirects=False)
        attacked(figures, reply.status_code < 400)
        assert reply.status_code == 403 and "console link" in reply.text, (path, reply.status_code)
    posts = [
        ("faces/is", {"verdict_id": other, "name": "mallory"}),
        ("faces/not", {"verdict_id": other, "name": "biden"}),
        ("faces/is", {"verdict_id": their_face, "name": "mallory"}),
        ("faces/look-again", {}),
        ("strangers/name", {"stranger_id": strangers[1].stranger_id, "name": "mallory"}),
        ("strangers/forget", {"stranger_id": strangers[1].stranger_id}),
        ("people/remove-photo", {"photo_key": photo}),
        ("settings", {"channel_email": "on", "mail_to": "mallory@evil.example"}),
        ("signout-everywhere", {}),
    ]
    for path, data in posts:
        reply = http.post(f"{site.url}{path}", data={**data, "csrf": token}, allow_redirects=False)
        attacked(figures, reply.status_code < 400)
        assert reply.status_code == 403 and "console link" in reply.text, (path, reply.status_code)
    assert site.objects() == before


def test_an_alert_link_sent_before_links_named_their_face_reaches_that_face_only(site, figures):
    """Emails already in mailboxes carry links to the whole console that open a face's page."""
    face = site.strangers()[0].recent[-1].verdict_id
    old = sign_in_link(
        SECRET,
        "home",
        now=datetime.now(UTC),
        ttl=timedelta(days=7),
        next_path=f"/face?id={quote(face, safe='')}",
    )
    http = sign_in(site, link=f"{site.url}signin?token={old}")
    assert http.get(f"{site.url}face", params={"id": face}).status_code == 200
    before = site.objects()
    reply = http.get(f"{site.url}people")
    attacked(figures, reply.status_code < 400)
    assert reply.status_code == 403 and "console link" in reply.text
    assert site.objects() == before
