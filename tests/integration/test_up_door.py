"""`facewatch up`'s door, reached from a second host: a network namespace of the test's own
(a veth pair in 10.231.x.0/30), the household's phone. A stranger's clip plays through an
agent; the alert email's links are opened on the phone in a headless Chromium that knows
the box only by its address: it signs in with the button, sees the face and the frame,
names the stranger with "I know this person"; the person's next visit is silent. From the
phone only the door answers, over TLS only, with the certificate whose fingerprint `up`
printed. And the door with tls = "off" behind a reverse proxy that says X-Forwarded-Proto.

Where network namespaces cannot be made (not root, no iproute2), these tests skip; under
CI they fail, as the browser tests do."""

from __future__ import annotations

import email
import email.policy
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from facewatch.local.processes import Process, free_port
from facewatch.local.seaweed import find_weed
from tests.conftest import TESTDATA
from tests.integration.up_harness import (
    CLIP,
    PORT_NAMES,
    Up,
    clean_env,
    facewatch,
    json_lines,
    wait_for,
    write_config,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Lan:
    namespace: str
    host: str
    """The box's address, on its end of the veth pair."""
    phone: str

    def run(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """ARGV on the phone."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
            env={**clean_env(), "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        )


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def lan() -> Iterator[Lan]:
    """A phone namespace joined to this one by a veth pair; removed afterwards."""
    tag = os.getpid() % 10000
    namespace, outer, inner = f"fwphone{tag}", f"fwbox{tag}", f"fwtel{tag}"
    subnet = f"10.231.{os.getpid() % 250}"
    if os.geteuid() != 0 or shutil.which("ip") is None:
        if os.environ.get("CI"):
            pytest.fail("CI: the door's LAN tests need root and iproute2 (network namespaces)")
        pytest.skip("network namespaces need root and iproute2")
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", namespace)
        _ip("addr", "add", f"{subnet}.1/30", "dev", outer)
        _ip("link", "set", outer, "up")
        _ip("-n", namespace, "addr", "add", f"{subnet}.2/30", "dev", inner)
        _ip("-n", namespace, "link", "set", inner, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        if os.environ.get("CI"):
            pytest.fail(f"CI: cannot make a network namespace: {exc.stderr}")
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.strip()}")
    try:
        yield Lan(namespace, f"{subnet}.1", f"{subnet}.2")
    finally:
        subprocess.run(["ip", "link", "del", outer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


@dataclass
class Home:
    up: Up
    ports: dict[str, int]
    door_port: int
    outbox: Path
    data: Path
    printed: dict[str, str]
    """What `up` printed after its export line: url, fingerprint, sign-in."""


@pytest.fixture(scope="module")
def home(lan: Lan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """One `facewatch up` whose door listens on the box's LAN address (cameras on)."""
    folder = tmp_path_factory.mktemp("door")
    ports = {name: free_port() for name in PORT_NAMES}
    door_port = free_port()
    # The phone has no mDNS resolver here: the public URL is the box's address.
    public = f"https://{lan.host}:{door_port}"
    web = f'[web]\nlisten = "{lan.host}:{door_port}"\npublic_url = "{public}"\ncameras = true\n'
    config = write_config(folder / "home.toml", ports, web)
    data, outbox = folder / "data", folder / "outbox"
    up = Up(data, config, outbox, folder / "up.log")
    try:
        assert up.proc.stdout is not None
        printed = {}
        for _ in range(3):
            word, _, rest = up.proc.stdout.readline().strip().partition(" ")
            printed[word] = rest
        yield Home(up, ports, door_port, outbox, data, printed)
    finally:
        if up.proc.poll() is None:
            up.stop()


def _stranger_emails(outbox: Path) -> list[Path]:
    return [
        p
        for p in sorted(outbox.glob("*.eml"))
        if str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]).startswith(
            "Stranger at"
        )
    ]


def _links(eml: Path) -> dict[str, str]:
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    labels = ("Console", "I know this person", "Full frame (link expires)")
    found = {}
    for line in text.splitlines():
        label, _, link = line.strip().partition(": ")
        if label in labels:
            found[label] = link
    assert "127.0.0.1" not in text, text
    return found


def test_the_alert_email_opens_on_the_phone_and_naming_the_stranger_silences_them(lan: Lan, home: Home):
    public = f"https://{lan.host}:{home.door_port}"
    assert home.printed["url"] == public + "/"
    assert re.fullmatch(r"SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}", home.printed["fingerprint"])
    assert home.printed["sign-in"].startswith(f"home {public}/signin?token=")
    assert home.up.exports["FACEWATCH_CONSOLE_URL"] == public + "/"
    env = home.up.env()
    known = [str(p) for p in (TESTDATA / "known" / "obama").iterdir()]
    enrolled = facewatch("enroll", "--household", "home", "--name", "Obama", *known, env=env)
    assert enrolled.returncode == 0, enrolled.stderr

    played = facewatch(
        "agent", "--source", str(CLIP), "--household", "home", "--camera", "door", "--quiet", env=env
    )
    assert played.returncode == 0, played.stderr
    emails = wait_for("the stranger's email", lambda: _stranger_emails(home.outbox), home.up)
    links = _links(emails[0])
    assert set(links) == {"Console", "I know this person", "Full frame (link expires)"}, links
    assert all(link.startswith(public + "/") for link in links.values()), links

    args = {
        "host": lan.host,
        "door_port": home.door_port,
        "inner_ports": [home.ports[name] for name in ("s3", "recognize", "notify", "detect", "console")],
        "fingerprint": home.printed["fingerprint"].removeprefix("SHA-256 "),
        "console_link": links["Console"],
        "known_link": links["I know this person"],
        "frame_link": links["Full frame (link expires)"],
        "name": "Ann",
    }
    args_file = home.data.parent / "phone.json"
    args_file.write_text(json.dumps(args))
    done = lan.run(sys.executable, "-m", "tests.integration.door_phone", str(args_file))
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(seen["refused"].values()), seen["refused"]
    assert not seen["plain_http_answered"]
    assert seen["fingerprint"] == args["fingerprint"]
    assert seen["after_signin"].startswith(public + "/visit?id="), seen  # the alert's visit
    assert seen["face_shown"] and seen["frame_shown"], seen
    assert seen["cookie_secure"] == [True], seen
    assert "Ann" in seen["named"], seen["named"]
    assert seen["frame_link"][:2] == [200, "image/jpeg"] and seen["frame_link"][2] > 1000, seen
    assert seen["problems"] == [], seen["problems"]

    # Ann's next visit: she is known, no stranger is seen, and no email is sent.
    emails_before = len(_stranger_emails(home.outbox))
    before = {
        r["frame_key"] for r in json_lines(facewatch("events", "--household", "home", "--json", env=env))
    }
    again = facewatch(
        "agent", "--source", str(CLIP), "--household", "home", "--camera", "door", "--quiet", env=env
    )
    assert again.returncode == 0, again.stderr
    uploaded = json.loads(again.stdout.strip().splitlines()[-1])["frames_uploaded"]

    def second_visit() -> list[dict[str, Any]] | None:
        rows = json_lines(facewatch("events", "--household", "home", "--json", env=env))
        new = [r for r in rows if r["frame_key"] not in before]
        return new if len({r["frame_key"] for r in new}) >= uploaded else None

    new = wait_for("the second visit judged", second_visit, home.up)
    assert "Ann" in {r.get("name") for r in new}, new
    assert "stranger" not in {r.get("verdict") for r in new}, new
    time.sleep(2)  # an alert would be mailed by now
    assert len(_stranger_emails(home.outbox)) == emails_before


def test_detect_on_the_lan_takes_only_the_households_token(lan: Lan, home: Home):
    url = f"https://{lan.host}:{home.door_port}/detect?household=home&camera=porch"
    probe = (
        "import ssl, sys, urllib.request as u\n"
        "c = ssl._create_unverified_context()\n"
        "def post(token):\n"
        "    bearer = {'Authorization': 'Bearer ' + token}\n"
        "    r = u.Request(sys.argv[1], data=b'x', method='POST', headers=bearer)\n"
        "    try:\n"
        "        return u.urlopen(r, context=c).status\n"
        "    except u.HTTPError as e:\n"
        "        return e.code\n"
        "print(post('not-the-token'), post(sys.argv[2]))\n"
    )
    token = facewatch("detect-token", "--household", "home", env=home.up.env())
    assert token.returncode == 0, token.stderr
    done = lan.run(sys.executable, "-c", probe, url, token.stdout.strip())
    assert done.returncode == 0, done.stderr
    wrong, right = done.stdout.split()
    assert wrong == "401"
    assert right == "400", "the household's token is let in (and b'x' is then no image)"


class _Proxy(http.server.ThreadingHTTPServer):
    """The person's own reverse proxy: forwards to the door and says the browser came by https."""

    daemon_threads = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        super().__init__(("127.0.0.1", 0), _Forward)


class _Forward(http.server.BaseHTTPRequestHandler):
    server: _Proxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": headers.get("Host", "")})
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _forward

    def log_message(self, *args: object) -> None:
        pass


def test_tls_off_behind_a_proxy_cookies_are_secure_and_links_use_the_public_url(lan: Lan, home: Home):
    """A second door on the same stack, tls = "off", behind a proxy on this box: a sign-in
    through the proxy gets a Secure cookie; the same request sent straight to the door from
    the phone, saying X-Forwarded-Proto itself, does not. (The proxy reaches the door from
    the box's LAN address, which is what trusted_proxies names.)"""
    from facewatch.local.up.config import parse_config
    from facewatch.local.up.door import DoorPlan, door_process

    port = free_port()
    public = "https://door.example.test"
    web = parse_config(
        f'[web]\nlisten = "{lan.host}:{port}"\ntls = "off"\npublic_url = "{public}"\n'
        f'trusted_proxies = ["{lan.host}"]\n'
    ).config.web
    keys = json.loads((home.data / "secrets.json").read_text())
    env = {
        **home.up.env(),
        "FACEWATCH_LINK_SECRET": keys["link_secret"],
        "FACEWATCH_CONSOLE_URL": public + "/",
        "PYTHONUNBUFFERED": "1",
    }
    door: Process = door_process(DoorPlan(web, public, None), env, home.data.parent / "logs-tls-off")
    door.start()
    proxy = _Proxy((lan.host, port))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        link = facewatch("console-link", "--household", "home", env=env)
        assert link.returncode == 0, link.stderr
        assert link.stdout.strip().startswith(public + "/signin?token=")
        token = link.stdout.strip().split("token=", 1)[1]

        def sign_in(host: str, port_: int, token_: str) -> str:
            conn = http.client.HTTPConnection(host, port_, timeout=30)
            conn.request(
                "POST",
                "/signin",
                body=f"token={token_}",
                headers={"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-Proto": "https"},
            )
            answer = conn.getresponse()
            assert answer.status == 303, answer.read()
            return answer.getheader("Set-Cookie") or ""

        cookie = sign_in("127.0.0.1", proxy.server_address[1], token)
        assert "; Secure" in cookie and "HttpOnly" in cookie
        again = facewatch("console-link", "--household", "home", env=env).stdout.strip().split("token=", 1)[1]
        forged = (
            "import http.client, sys\n"
            "c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]))\n"
            "c.request('POST', '/signin', body='token=' + sys.argv[3], headers={'Content-Type':"
            " 'application/x-www-form-urlencoded', 'X-Forwarded-Proto': 'https'})\n"
            "r = c.getresponse(); print(r.status, r.getheader('Set-Cookie'))\n"
        )
        done = lan.run(sys.executable, "-c", forged, lan.host, str(port), again)
        assert done.stdout.startswith("303 "), done.stdout + done.stderr
        assert "Secure" not in done.stdout
    finally:
        proxy.shutdown()
        door.stop()


def test_the_box_is_announced_by_mdns_on_the_lan(lan: Lan, home: Home):
    """The phone asks the LAN (multicast, no DNS server) for the door's _https._tcp service
    and for <hostname>.local, and gets the box's address and the door's port."""
    from facewatch.local.up.mdns import SERVICE, hostname

    ask = (
        "import json, sys\n"
        "from zeroconf import Zeroconf\n"
        "zc = Zeroconf(interfaces=[sys.argv[1]])\n"
        "info = zc.get_service_info(sys.argv[2], sys.argv[3], timeout=5000)\n"
        "zc.close()\n"
        "print(json.dumps(None if info is None else\n"
        "    [info.port, info.parsed_addresses(), info.server]))\n"
    )
    name = f"facewatch on {hostname()}.{SERVICE}"
    done = lan.run(sys.executable, "-c", ask, lan.phone, SERVICE, name, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [home.door_port, [lan.host], f"{hostname()}.local."]


def test_a_door_port_in_use_is_one_line_and_nothing_starts(tmp_path: Path):
    import socket

    ports = {name: free_port() for name in PORT_NAMES}
    door = free_port()
    config = write_config(tmp_path / "home.toml", ports, f'[web]\nlisten = "127.0.0.1:{door}"\n')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", door))
        busy.listen()
        result = facewatch("up", "--data", str(tmp_path / "data"), "--config", str(config), env=clean_env())
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: port {door} (web.listen) is in use: free it or choose another in [web] listen"]
    assert "ready" not in result.stdout
