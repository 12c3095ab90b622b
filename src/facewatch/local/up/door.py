"""`facewatch up`'s door (web/door.py) as a process: gunicorn, a production WSGI server,
on [web] listen, speaking TLS with the door's certificate (tls.py) unless [web] tls is
off; its public URL; and the preflight of its port. The rest of the stack stays on
127.0.0.1: the door is the one thing the LAN reaches."""

from __future__ import annotations

import errno
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from facewatch.local.processes import Process, StackError
from facewatch.local.up import mdns, tls
from facewatch.local.up.config import TlsFiles, WebConfig

WORKERS = 1
THREADS = 8
"""One worker of eight threads: a household's phones, not a crowd; what the door does is
mostly waiting on the storage."""


@dataclass(frozen=True)
class DoorPlan:
    """What the door is, decided before it starts."""

    web: WebConfig
    public_url: str
    """No trailing slash."""
    certificate: tls.DoorCertificate | None
    """None: tls = "off"."""

    @property
    def console_url(self) -> str:
        return self.public_url + "/"

    @property
    def feedback_url(self) -> str:
        return self.public_url + "/feedback/"

    @property
    def frame_link_url(self) -> str:
        return self.public_url + "/picture"


def plan_door(web: WebConfig, tls_folder: Path, now: datetime | None = None) -> DoorPlan:
    """The public URL and the certificate (made or reused in TLS_FOLDER when self-signed)."""
    name = mdns.hostname()
    public_url = web.url(name)
    if web.tls == "off":
        return DoorPlan(web, public_url, None)
    if isinstance(web.tls, TlsFiles):
        return DoorPlan(web, public_url, tls.of_files(web.tls.cert_file, web.tls.key_file))
    from urllib.parse import urlsplit

    names = {name, f"{name}.local", "localhost"}
    addresses = {"127.0.0.1", *mdns.lan_addresses(web.host)}
    host = urlsplit(public_url).hostname or ""
    try:
        import ipaddress

        addresses.add(str(ipaddress.ip_address(host)))
    except ValueError:
        names.add(host.lower())
    return DoorPlan(web, public_url, tls.self_signed(tls_folder, names, addresses, now or datetime.now(UTC)))


def check_listen_free(web: WebConfig) -> None:
    """StackError when something already listens where the door would."""
    family = socket.AF_INET6 if ":" in web.host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((web.host, web.port))
        except OSError as exc:
            raise StackError(
                f"port {web.port} (web.listen) is in use: free it or choose another in [web] listen"
                if exc.errno == errno.EADDRINUSE
                else f"cannot listen on {web.listen} (web.listen): {exc.strerror}"
            ) from None


def door_process(plan: DoorPlan, env: dict[str, str], logs: Path) -> Process:
    """gunicorn serving web/door.py's app with ENV (the functions' settings)."""
    web = plan.web
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv0 = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    trusted = tuple(web.trusted_proxies)
    argv = [
        *argv0,
        *("--bind", f"[{web.host}]:{web.port}" if ":" in web.host else f"{web.host}:{web.port}"),
        *("--workers", str(WORKERS), "--threads", str(THREADS), "--worker-class", "gthread"),
        # gunicorn's own reading of X-Forwarded-Proto follows the same trust as the app's:
        # nobody's when the door speaks TLS itself (gunicorn's default would believe
        # 127.0.0.1, whose "http" then took the Secure flag off a cookie sent over TLS).
        *("--forwarded-allow-ips", ",".join(trusted)),
        # No access log: the sign-in and picture links carry their tokens in the query.
        *("--timeout", "60", "--graceful-timeout", "10"),
        "--no-control-socket",
    ]
    if plan.certificate is not None:
        argv += ["--certfile", str(plan.certificate.cert_file), "--keyfile", str(plan.certificate.key_file)]
    argv.append(f"facewatch.web.door:create_app(cameras={web.cameras!r}, trusted_proxies={trusted!r})")
    return DoorProcess("door", argv, env, logs / "door.log", url=None, plan=plan)


@dataclass
class DoorProcess(Process):
    """A Process that is up once the door answers an HTTPS (or, tls off, HTTP) request."""

    plan: DoorPlan | None = None

    def start(self, timeout: float = 60.0) -> None:
        super().start(timeout)
        if self.plan is not None:
            wait_answering(self.plan.web, self.plan.certificate is not None, self, timeout)


def _reach_host(web: WebConfig) -> str:
    if web.host in ("0.0.0.0", "::"):
        return "127.0.0.1" if web.host == "0.0.0.0" else "::1"
    return web.host


def wait_answering(web: WebConfig, https: bool, process: Process, timeout: float) -> None:
    """Until the door answers a request for /signedout (its app loaded, not only bound)."""
    host, port = _reach_host(web), web.port
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is ours: it is the answer we wait for
    request = f"GET /signedout HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.exit_code() is not None:
            tail = process.log_path.read_text(errors="replace")[-2000:] if process.log_path.exists() else ""
            raise StackError(f"the door exited with code {process.exit_code()} while starting:\n{tail}")
        try:
            with socket.create_connection((host, port), timeout=2) as raw:
                sock = context.wrap_socket(raw) if https else raw
                sock.sendall(request)
                if sock.recv(16).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise StackError(
        f"the door did not answer on {web.listen} within {timeout:.0f}s (log: {process.log_path})"
    )
