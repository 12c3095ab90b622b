"""Real Mosquitto broker for tests (Debian's /usr/sbin/mosquitto).

    broker = Mosquitto().start()
    broker.url       # mqtt://facewatch:<pw>@127.0.0.1:<port>   (password auth)
    broker.tls_url   # mqtts://facewatch:<pw>@127.0.0.1:<tls_port> (TLS + auth)
    broker.ca_file   # CA that signed the broker's cert (CN/SAN 127.0.0.1, localhost)
    broker.wrong_ca_file  # an unrelated CA, for "bad CA is refused" tests
    broker.kill(); broker.start()   # broker dies, comes back on the same ports
    broker.stop()

Everything (config, password file, CA, server cert/key, log) lives in a
private temp dir made per instance; ``allow_anonymous false``, persistence off,
both listeners bound to 127.0.0.1 only.  ``start()`` returns once an MQTT
CONNECT with the credentials gets CONNACK 0 on both the plain and the TLS
listener.  Needs: Debian package ``mosquitto``; Python ``cryptography``.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from facewatch.local.processes import free_port
from tests.server_process import ServerProcess, ServerStartError

MOSQUITTO = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
SETPRIV = "/usr/bin/setpriv"  # util-linux
HOST = "127.0.0.1"


class MosquittoError(ServerStartError):
    """The broker did not come up."""


# -- files ------------------------------------------------------------------
def password_line(username: str, password: str) -> str:
    """A mosquitto 2.x password-file line (``$7$`` = PBKDF2-SHA512, 101 rounds),
    the same format ``mosquitto_passwd -b -c`` writes."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101, 64)
    return f"{username}:$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(directory: Path, name: str) -> tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Self-signed test CA; writes ``<name>.crt`` (and ``<name>.key``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"facewatch test {name}")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    crt_path = directory / f"{name}.crt"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / f"{name}.key", _pem_key(key))
    return crt_path, cert, key


def make_server_cert(
    directory: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    """Server cert for CN 127.0.0.1, SAN IP:127.0.0.1 + DNS:localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    crt_path, key_path = directory / "server.crt", directory / "server.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, _pem_key(key))
    return crt_path, key_path


# -- probing ----------------------------------------------------------------
def _mqtt_str(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def mqtt_connect_rc(sock: socket.socket, username: str, password: str) -> int:
    """MQTT 3.1.1 CONNECT on ``sock``; returns the CONNACK return code."""
    payload = _mqtt_str(f"probe-{secrets.token_hex(4)}") + _mqtt_str(username) + _mqtt_str(password)
    variable = _mqtt_str("MQTT") + bytes([4, 0b11000010]) + struct.pack("!H", 10)
    body = variable + payload
    assert len(body) < 128
    sock.sendall(bytes([0x10, len(body)]) + body)
    reply = b""
    while len(reply) < 4:
        chunk = sock.recv(4 - len(reply))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        reply += chunk
    if reply[0] != 0x20:
        raise ConnectionError(f"not a CONNACK: {reply!r}")
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    return reply[3]


# -- the broker -------------------------------------------------------------
class Mosquitto(ServerProcess):
    """A private mosquitto broker with a password listener and a TLS listener."""

    name = "mosquitto"
    error = MosquittoError

    def __init__(
        self,
        username: str = "facewatch",
        password: str | None = None,
        *,
        port: int | None = None,
        tls_port: int | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, prefix="mosquitto-")
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.port = port
        self.tls_port = tls_port
        self.log_path = self.dir / "mosquitto.log"
        self._pick_ports = False
        ca_path, ca_cert, ca_key = make_ca(self.dir, "ca")
        self.ca_file = ca_path
        self.certfile, self.keyfile = make_server_cert(self.dir, ca_cert, ca_key)
        (self.dir / "passwd").write_text(password_line(self.username, self.password))
        self._wrong_ca: Path | None = None

    # -- properties ---------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url("mqtt", self._need(self.port))

    @property
    def tls_url(self) -> str:
        return self._url("mqtts", self._need(self.tls_port))

    @property
    def wrong_ca_file(self) -> Path:
        """A CA that did NOT sign the broker's certificate (made on first use)."""
        if self._wrong_ca is None:
            self._wrong_ca = make_ca(self.dir, "wrong-ca")[0]
        return self._wrong_ca

    def ssl_context(self, ca_file: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
        """Client context trusting ``ca_file`` (default: the broker's CA)."""
        return ssl.create_default_context(cafile=str(ca_file or self.ca_file))

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> Mosquitto:
        # Ports of our own choosing are picked afresh for each try; given ones are kept
        # (a restart after kill() comes back on the same ports).
        self._pick_ports = self.port is None or self.tls_port is None
        return super().start()

    # -- internals ----------------------------------------------------------
    def _url(self, scheme: str, port: int) -> str:
        return f"{scheme}://{quote(self.username, safe='')}:{quote(self.password, safe='')}@{HOST}:{port}"

    @staticmethod
    def _need(port: int | None) -> int:
        if port is None:
            raise RuntimeError("broker has no port yet: call start() first")
        return port

    def _write_config(self) -> None:
        # Running as root, mosquitto 2 would drop to user "mosquitto", which
        # cannot read our 0700 temp dir: stay the current user instead.
        lines = [
            f"user {getpass.getuser()}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self.dir / 'passwd'}",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
            "set_tcp_nodelay true",
            f"listener {self.port} {HOST}",
            f"listener {self.tls_port} {HOST}",
            f"cafile {self.ca_file}",
            f"certfile {self.certfile}",
            f"keyfile {self.keyfile}",
            "tls_version tlsv1.2",
            "",
        ]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines))

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self._pick_ports:
            self.port, self.tls_port = free_port(), free_port()
        self._write_config()
        if not (shutil.which(MOSQUITTO) or Path(MOSQUITTO).exists()):
            raise MosquittoError(f"{MOSQUITTO} not found: apt-get install mosquitto")
        cmd = [MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")]
        if Path(SETPRIV).exists():
            # exec'd, so pid/kill() still address mosquitto itself; SIGTERM it
            # if the thread that started it dies (no orphan after a crash).
            cmd = [SETPRIV, "--pdeathsig", "TERM", "--", *cmd]
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> str | None:
        """None once both listeners accept our credentials, else an error text."""
        assert self.port is not None and self.tls_port is not None
        tls = self.ssl_context()
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.running:
                return "process exited"
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    rc = mqtt_connect_rc(s, self.username, self.password)
                with (
                    socket.create_connection((HOST, self.tls_port), timeout=1) as raw,
                    tls.wrap_socket(raw, server_hostname=HOST) as s,
                ):
                    rc = rc or mqtt_connect_rc(s, self.username, self.password)
                if rc == 0:
                    return None
                return f"CONNACK rc={rc}"  # config problem, no point retrying
            except (OSError, ConnectionError) as exc:
                last = repr(exc)
            time.sleep(0.01)
        return f"timeout: {last}"

    def _worth_retrying(self, log: str) -> bool:
        return "Address already in use" in log


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A running Mosquitto broker on free loopback ports; stopped afterwards. Installed by
    `make test` when root; elsewhere the MQTT tests skip, and fail when CI is set."""
    if not Path(MOSQUITTO).exists():
        missing = f"{MOSQUITTO} missing: apt-get install mosquitto"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    broker = Mosquitto()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


class Subscriber:
    """A real MQTT client subscribed to `topic` (default: everything) that keeps what it
    receives, retained flag included."""

    def __init__(self, broker: Mosquitto, topic: str = "#") -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2)
        self._client.username_pw_set(broker.username, broker.password)
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._keep
        self._client.connect(HOST, broker._need(broker.port))
        self._client.loop_start()
        assert subscribed.wait(5), "subscriber did not subscribe"

    def _keep(self, client: object, userdata: object, message: object) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))  # type: ignore[attr-defined]

    def on(self, topic: str, *, count: int = 1, timeout: float = 5.0) -> list[tuple[bytes, bool]]:
        """The messages on `topic`, waiting until at least `count` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [(payload, retain) for t, payload, retain in self.messages if t == topic]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class LateSubscriber:
    """Subscribes the way Home Assistant does: to the discovery topics first, and to the
    visit topic only `delay` seconds after the camera's config arrived."""

    def __init__(self, broker: Mosquitto, config_topic: str, visit_topic: str, delay: float = 0.3) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.visits: list[bytes] = []
        self.subscribed_at: float | None = None
        self.config_at: float | None = None
        ready = threading.Event()

        def on_message(client: object, userdata: object, message: Any) -> None:
            if message.topic == config_topic and self.config_at is None:
                self.config_at = time.monotonic()
                threading.Timer(delay, subscribe_visit).start()
            elif message.topic == visit_topic:
                self.visits.append(message.payload)

        def subscribe_visit() -> None:
            self.subscribed_at = time.monotonic()
            self._client.subscribe(visit_topic, qos=1)

        self._client = paho.Client(CallbackAPIVersion.VERSION2)
        self._client.username_pw_set(broker.username, broker.password)
        self._client.on_connect = lambda c, *_: c.subscribe(config_topic, qos=1)
        self._client.on_subscribe = lambda *_: ready.set()
        self._client.on_message = on_message
        self._client.connect(HOST, broker._need(broker.port))
        self._client.loop_start()
        assert ready.wait(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
