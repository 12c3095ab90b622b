"""`facewatch up`'s door attacked from the LAN (local/up/door.py, web/door.py): the real
door, gunicorn with its TLS certificate, in front of the console's household on a real S3
server (tests/console_site.py), and a second door with tls = "off" behind a proxy that is
not the attacker. Picture links (`/picture?token=`) forged, expired, tampered with, made
for another household's picture or with a key that climbs out of its household, used as a
sign-in, session or "I know this person" token and the reverse; forwarded headers
(X-Forwarded-Proto / -Host / -For, Forwarded, the underscore spellings) said by a peer
that is not a trusted proxy; a Host header that would poison the links and redirects the
door builds; requests over gunicorn's limits or the forms'; methods the door does not
serve; /metrics through the door. (That the functions' own ports are not reachable from
the LAN is test_up_door's phone, from a network namespace of its own.) Each attack is
counted in the figures and must be refused, with a message saying why, changing nothing."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from facewatch.exceptions import BadInput
from facewatch.layout import FrameKey
from facewatch.local.processes import Process, free_port
from facewatch.local.up.config import ConfigError, parse_config
from facewatch.local.up.door import DoorPlan, door_process, plan_door
from facewatch.tokens import _PICTURE, _signed, sign_face, sign_picture
from tests.console_site import SECRET, Site, refused, token_of
from tests.reliability.attacker import attacked, status_within

pytestmark = pytest.mark.integration
PROXY = "192.0.2.1"
"""The one proxy the tls-off door trusts: an address no test connects from."""
PUBLIC = "https://door.example.test"


@dataclass
class Door:
    url: str
    """No trailing slash."""
    process: Process
    verify: str | bool

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, verify=self.verify, allow_redirects=False, timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(self.url + path, verify=self.verify, allow_redirects=False, timeout=30, **kwargs)  # type: ignore[arg-type]


@dataclass
class Doors:
    tls: Door
    proxied: Door
    site: Site


@pytest.fixture(scope="module")
def doors(console_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doors]:
    root = tmp_path_factory.mktemp("door")
    console_site.restore()  # whatever the modules before left of it
    started: list[Process] = []
    try:
        port = free_port()
        web = parse_config(f'[web]\nlisten = "127.0.0.1:{port}"\n').config.web
        plan = plan_door(web, root / "tls")
        assert plan.certificate is not None
        tls = _start(plan, console_site, root / "tls-logs", started)
        tls_door = Door(plan.public_url, tls, str(plan.certificate.cert_file))

        port = free_port()
        web = parse_config(
            f'[web]\nlisten = "127.0.0.1:{port}"\ntls = "off"\npublic_url = "{PUBLIC}"\n'
            f'trusted_proxies = ["{PROXY}"]\n'
        ).config.web
        proxied = _start(DoorPlan(web, PUBLIC, None), console_site, root / "proxied-logs", started)
        yield Doors(tls_door, Door(f"http://127.0.0.1:{port}", proxied, False), console_site)
    finally:
        for process in started:
            process.stop()


def _start(plan: DoorPlan, site: Site, logs: Path, started: list[Process]) -> Process:
    env = {
        **site.process.env,
        "FACEWATCH_CONSOLE_URL": plan.console_url,
        "FACEWATCH_FEEDBACK_URL": plan.feedback_url,
        "FACEWATCH_FRAME_LINK_URL": plan.frame_link_url,
    }
    process = door_process(plan, env, logs)
    started.append(process)
    process.start()
    return process


@pytest.fixture
def door(doors: Doors) -> Doors:
    """The doors; no test here changes the household (each checks that), so the site is
    put back once, when the doors start, not before each test."""
    return doors


def a_frame(site: Site, household: str = "home") -> str:
    return next(iter(site.storage.list_keys(f"households/{household}/frames/")))


def picture_token(
    household: str, key: str, *, ago: timedelta = timedelta(0), ttl: timedelta = timedelta(hours=1)
) -> str:
    return sign_picture(SECRET, household, key, now=datetime.now(UTC) - ago, ttl=ttl)


def signed_by_a_fooled_signer(household: str, key: str) -> str:
    """A picture token with our secret for any key: what a signer that checked nothing
    would make (the door must still refuse a key outside the household)."""
    expires = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    return _signed(SECRET, _PICTURE, {"h": household, "k": key, "e": expires})


# --- picture links ---------------------------------------------------------------------------------


def test_a_genuine_picture_link_shows_its_picture_and_nothing_else(door: Doors):
    """The control: the link works, so the refusals below are the link's checks."""
    key = a_frame(door.site)
    reply = door.tls.get("/picture", params={"token": picture_token("home", key)})
    assert reply.status_code == 200 and reply.content == door.site.storage.get(key).body
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_a_forged_expired_or_tampered_picture_link_is_refused(door: Doors, figures):
    key, theirs = a_frame(door.site), a_frame(door.site, "next-door")
    genuine = picture_token("home", key)
    body, _, mac = genuine.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    swapped = base64.urlsafe_b64encode(json.dumps({**payload, "k": theirs, "h": "next-door"}).encode())
    attempts = {
        "another secret": (
            sign_picture("x" * 40, "home", key, now=datetime.now(UTC), ttl=timedelta(hours=1)),
            "signature",
        ),
        "expired": (picture_token("home", key, ago=timedelta(hours=2)), "expired"),
        "another key, same signature": (swapped.decode().rstrip("=") + "." + mac, "signature"),
        "a changed signature": (body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"), "signature"),
        "no signature": (body, "signature"),
        "empty": ("", "signature"),
        "a long one": ("A" * 4000, "signature"),
    }
    for what, (token, words) in attempts.items():
        reply = door.tls.get("/picture", params={"token": token})
        assert not attacked(figures, reply.status_code == 200), what
        refused(reply, 400, words)


@pytest.mark.parametrize(
    "key",
    [
        "households/home/../next-door/frames/{frame}",
        "households/home/frames/../../next-door/frames/{frame}",
        "households/next-door/frames/{frame}",
    ],
)
def test_a_picture_link_for_another_households_picture_cannot_be_made_or_used(door: Doors, figures, key):
    theirs = a_frame(door.site, "next-door").split("/frames/", 1)[1]
    key = key.format(frame=theirs)
    with pytest.raises(BadInput, match="is not a picture of household home"):
        picture_token("home", key)
    reply = door.tls.get("/picture", params={"token": signed_by_a_fooled_signer("home", key)})
    assert not attacked(figures, reply.status_code == 200), key
    refused(reply, 400, "picture and household disagree")


@pytest.mark.parametrize(
    "key",
    [
        "households/home/%2e%2e/next-door/frames/{frame}",
        "households/home/%2E%2E%2Fnext-door%2Fframes%2F{frame}",
        "households/home//households/next-door/frames/{frame}",
        "households/home/./../next-door/frames/{frame}".replace("/../", "/.%2e/"),
        "households/home/..\\next-door\\frames\\{frame}",
    ],
)
def test_a_picture_key_with_encoded_or_doubled_separators_names_no_other_households_picture(
    door: Doors, figures, key
):
    """Keys are S3's, taken literally: no layer decodes or collapses them into the
    neighbour's picture (a fooled signer's token, so only the storage decides)."""
    theirs = a_frame(door.site, "next-door").split("/frames/", 1)[1]
    key = key.format(frame=theirs)
    reply = door.tls.get("/picture", params={"token": signed_by_a_fooled_signer("home", key)})
    leaked = (
        reply.status_code == 200
        and reply.content == door.site.storage.get(a_frame(door.site, "next-door")).body
    )
    assert not attacked(figures, leaked), key
    assert reply.status_code in (400, 404), (reply.status_code, reply.text[:200])


def test_a_picture_link_opens_nothing_else_and_nothing_else_opens_a_picture(door: Doors, figures):
    key = a_frame(door.site)
    picture = picture_token("home", key)
    face = sign_face(
        SECRET, "home", key, frame_box(door.site, key), now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    http = signed_in(door)
    session_cookie = http.cookies["facewatch_session"]
    sign_in_token = token_of(door.site.link())
    before = door.site.objects()

    as_sign_in = door.tls.post("/signin", data={"token": picture})
    assert not attacked(figures, as_sign_in.status_code == 303)
    refused(as_sign_in, 400, "invalid sign-in link")
    as_session = door.tls.get("/faces", cookies={"facewatch_session": picture})
    assert not attacked(figures, as_session.status_code == 200)
    refused(as_session, 401, "invalid session")
    as_face = door.tls.get("/feedback/", params={"token": picture})
    assert not attacked(figures, as_face.status_code == 200)
    assert as_face.status_code == 400 and "signature does not match" in as_face.text
    for what, token in (("sign-in", sign_in_token), ("session", session_cookie), ("face", face)):
        reply = door.tls.get("/picture", params={"token": token})
        assert not attacked(figures, reply.status_code == 200), what
        refused(reply, 400, "invalid picture link")
    assert door.site.objects() == before


def frame_box(site: Site, key: str) -> object:
    from facewatch.frames import Box

    result = site.storage.get_json(FrameKey.parse(key).result_key)
    return Box(*result["faces"][0]["box"]) if result.get("faces") else Box(0, 0, 10, 10)


def signed_in(door: Doors, next_path: str = "/") -> requests.Session:
    """A browser signed in to home's console through the TLS door (the POST the sign-in
    page's button makes)."""
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise win over the door's certificate
    http.verify = door.tls.verify
    token = token_of(door.site.link(next_path=next_path))
    reply = http.post(f"{door.tls.url}/signin", data={"token": token}, allow_redirects=False)
    assert reply.status_code == 303, reply.text[:300]
    return http


# --- forwarded headers from a peer that is not a trusted proxy --------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "https"},
        {"Forwarded": "for=10.0.0.9;proto=https;host=door.example.test"},
        {"X-Forwarded-Ssl": "on", "X-Forwarded-Scheme": "https", "Front-End-Https": "on"},
        {"X_Forwarded_Proto": "https"},
        {"X-Forwarded-Proto": "https", "X-Forwarded-For": PROXY, "X-Real-IP": PROXY},
    ],
    ids=["x-forwarded-proto", "forwarded", "other-spellings", "underscore", "claims-to-be-the-proxy"],
)
def test_a_peer_that_is_not_the_proxy_cannot_say_it_came_by_https(door: Doors, figures, headers):
    """Plain http straight to the tls-off door: its cookie is not marked Secure whatever
    it says (the proxy's word, from the proxy, is test_up_door's)."""
    token = token_of(door.site.link())
    reply = door.proxied.post("/signin", data={"token": token}, headers={**headers, "Origin": PUBLIC})
    assert reply.status_code in (303, 403), reply.text[:300]
    believed = reply.status_code == 303 and "Secure" in reply.headers.get("Set-Cookie", "")
    assert not attacked(figures, believed), headers


def test_a_forwarded_host_from_a_peer_that_is_not_the_proxy_does_not_make_its_site_ours(door: Doors, figures):
    """X-Forwarded-Host is what the console takes for its own host in the same-origin
    check: said by anyone, it would let evil.example's page sign in or post."""
    token = token_of(door.site.link())
    reply = door.proxied.post(
        "/signin",
        data={"token": token},
        headers={"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example", "Host": "127.0.0.1"},
    )
    assert not attacked(figures, reply.status_code == 303)
    refused(reply, 403, "another site")


def test_a_poisoned_host_header_changes_no_link_or_redirect(door: Doors, figures):
    poison = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    signed = door.tls.post(
        "/signin", data={"token": token_of(door.site.link(next_path="/faces"))}, headers=poison
    )
    assert signed.status_code == 303
    assert not attacked(figures, "evil" in signed.headers["Location"]), signed.headers["Location"]
    # Over TLS the cookie is Secure whatever a peer says, even one on this box.
    assert not attacked(figures, "Secure" not in signed.headers["Set-Cookie"]), signed.headers["Set-Cookie"]
    http = signed_in(door)
    for path in ("/", "/faces", "/settings", "/strangers", "/signin?token=x", "/nowhere"):
        reply = http.get(door.tls.url + path, headers=poison, allow_redirects=False)
        location = reply.headers.get("Location", "")
        poisoned = "evil.example" in reply.text or "evil" in location or location.startswith("http")
        assert not attacked(figures, poisoned), path


# --- sizes, methods, what the door does not serve ------------------------------------------------


def raw_tls(door: Door) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(door.verify))
    host, port = door.url.removeprefix("https://").rsplit(":", 1)
    return context.wrap_socket(socket.create_connection((host, int(port)), timeout=30), server_hostname=host)


@pytest.mark.parametrize(
    "path",
    ["/feedback/", "/signin", "/settings/erase", "/people/add", "/detect"],
)
def test_a_huge_body_is_answered_before_it_is_sent(door: Doors, figures, path):
    with contextlib.closing(raw_tls(door.tls)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {1 << 33}\r\n\r\ntoken=".encode()
        )
        status = status_within(sock, 15)
    assert not attacked(figures, status is None or status < 400), (path, status)


def test_requests_over_the_servers_limits_are_refused(door: Doors, figures):
    long_line = door.tls.get("/picture", params={"token": "A" * 10_000})
    many = {f"X-Pad-{i}": "x" for i in range(200)}
    many_headers = door.tls.get("/signedout", headers=many)
    huge_header = door.tls.get("/signedout", headers={"Cookie": "facewatch_session=" + "A" * 20_000})
    for reply in (long_line, many_headers, huge_header):
        assert not attacked(figures, reply.status_code < 400), reply.status_code
    assert door.tls.get("/signedout").status_code == 200  # and the door serves on


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"])
def test_methods_the_door_does_not_serve_change_nothing(door: Doors, figures, method):
    http = signed_in(door)
    before = door.site.objects()
    for path in ("/settings/erase", "/picture", "/feedback/", "/signin", "/people/add"):
        reply = http.request(method, door.tls.url + path, data={"confirm": "home"}, allow_redirects=False)
        assert not attacked(figures, reply.status_code < 400), (method, path, reply.status_code)
    assert door.site.objects() == before


def test_metrics_are_not_served_through_the_door(door: Doors, figures):
    for target in (door.tls, door.proxied):
        reply = target.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
        assert not attacked(figures, reply.status_code == 200 and "# HELP" in reply.text)


def test_a_trusted_proxy_given_with_host_bits_is_one_clear_line_not_a_door_that_cannot_start(figures):
    """gunicorn reads trusted_proxies strictly: "192.168.1.5/24" would stop the door as
    it starts, with gunicorn's words; the config check says it first, and how to write it."""
    with pytest.raises(ConfigError) as refusal:
        parse_config(
            '[web]\ntls = "off"\npublic_url = "https://x.example"\ntrusted_proxies = ["192.168.1.5/24"]\n'
        )
    assert "192.168.1.0/24" in str(refusal.value)
