"""What the attack modules (test_attacks_*.py) share: counting an attack, a bucket's state
to compare before and after, raw HTTP for bodies nobody should read, and recognize's
functions-framework app taking SNS messages signed by a stand-in SNS (its certificate can
only be stood in for in this process, as in test_sns_http.py)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import pytest
from functions_framework import create_app

from facewatch import config
from facewatch.frames import Box
from facewatch.layout import FrameKey
from facewatch.local.processes import functions_dir
from facewatch.records import Alert, FaceVerdict
from facewatch.store.storage import Storage
from facewatch.web import services as services_module
from facewatch.web import sns as sns_module
from tests.conftest import EVENTS, s3_event
from tests.fake_sns import CERT_URL, TOPIC, FakeSns

FRAME = "households/home/frames/door/20261125/140312000005-1b6c52bf41e0.jpg"
"""The frame the SNS notifications name (removed: recognize does nothing with it but parse)."""


def attacked(figures: Any, got_through: bool) -> bool:
    """Count one attack (`attacks_tried`), and one bypass if it got through."""
    figures["attacks_tried"] += 1
    figures["attack_bypasses"] += int(got_through)
    return got_through


def snapshot(storage: Storage) -> dict[str, str | None]:
    """Every key of the bucket with its ETag: equal before and after, nothing changed."""
    return {key: storage.etag(key) for key in storage.list_keys("")}


def dead_letters(storage: Storage, household: str) -> str:
    return "".join(
        storage.get(k).body.decode() for k in storage.list_keys(f"households/{household}/alerts/dead/")
    )


def frame_key(household: str, camera: str = "door") -> str:
    """A new frame key of the household's camera, as the agent names frames."""
    return str(FrameKey.new(household, camera, datetime.now(UTC)))


def alert_for(storage: Storage, household: str, key: str, **changes: Any) -> dict[str, Any]:
    """An alert as recognize hands it over, about `key`, with `changes` made as an attacker
    would make them."""
    frame = FrameKey.parse(key)
    alert = Alert(
        alert_id=uuid.uuid4().hex[:20],
        household=household,
        camera=frame.camera,
        bucket=storage.bucket,
        frame_key=key,
        captured_at=datetime.now(UTC),
        faces=[FaceVerdict(box=Box(10, 10, 50, 50), verdict="stranger", verdict_id=f"{household}/x#0")],
        faces_in_frame=1,
    )
    return {**alert.model_dump(mode="json"), **changes}


# --- a capture server: the webhook receiver and every SSRF target ------------------------------------


class Captured(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Capture:
    """An HTTP server recording every request; a POST to `/redirect…` is answered 302 to
    `location`, one to `/fail…` 500, anything else 200."""

    host: str = "127.0.0.1"
    location: str = ""
    requests: list[Captured] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str = "hook", host: str | None = None) -> str:
        name = host or self.host
        name = f"[{name}]" if ":" in name else name
        return f"http://{name}:{self.port}/{path}"

    def start(self) -> Capture:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.requests.append(Captured(self.command, self.path, dict(self.headers), body))
                if self.command == "POST" and self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", capture.location)
                elif self.command == "POST" and self.path.startswith("/fail"):
                    self.send_response(500)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.server = server_class((self.host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- raw HTTP: a body the attacker sends, or does not ------------------------------------------------


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def status_within(sock: socket.socket, seconds: float) -> int | None:
    """The status the server answers with, if it does within `seconds` (None: no answer, or
    a server that hung up without a word)."""
    sock.settimeout(seconds)
    got = b""
    try:
        while b"\r\n" not in got:
            more = sock.recv(4096)
            if not more:
                break
            got += more
    except OSError:
        return None
    return int(got.split()[1]) if got.startswith(b"HTTP/") else None


# --- SNS at recognize ---------------------------------------------------------------------------------


def sns_stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sns_notification(
    bucket: str, *, at: datetime | None = None, message_id: str | None = None, etag: str = "9dd4e461"
) -> dict[str, Any]:
    """An SNS Notification (to be signed) carrying an S3 event about FRAME."""
    payload = json.loads((EVENTS / "s3_sns_http_notification.json").read_text())
    event = s3_event(bucket, FRAME, name="ObjectRemoved:Delete")
    event["Records"][0]["s3"]["object"]["eTag"] = etag
    payload["Message"] = json.dumps(event)
    payload["Timestamp"] = sns_stamp(at or datetime.now(UTC))
    payload["MessageId"] = message_id or str(uuid.uuid4())
    return payload


@dataclass
class SnsRecognize:
    """recognize's app, with the stand-in SNS that signs what it is given."""

    client: Any
    sns: FakeSns

    def post(self, payload: dict[str, Any], **headers: str) -> Any:
        sent = {
            "x-amz-sns-message-type": payload["Type"],
            "x-amz-sns-topic-arn": payload["TopicArn"],
            "Content-Type": "text/plain; charset=UTF-8",
            **headers,
        }
        return self.client.post("/", data=json.dumps(payload).encode(), headers=sent)


def sns_recognize(
    monkeypatch: pytest.MonkeyPatch, storage: Storage, webhook_token: str
) -> Iterator[SnsRecognize]:
    """recognize for the topic TOPIC with this webhook token; for a fixture to yield from."""
    fake = FakeSns()
    monkeypatch.setattr(
        sns_module, "https_get", lambda url: fake.fetch_cert(url) if url == CERT_URL else fake.http_get(url)
    )
    monkeypatch.setenv("FACEWATCH_BUCKET", storage.bucket)
    monkeypatch.setenv("FACEWATCH_S3_ENDPOINT_URL", storage.client.meta.endpoint_url)
    monkeypatch.setenv("FACEWATCH_WEBHOOK_TOKEN", webhook_token)
    monkeypatch.setenv("FACEWATCH_SNS_TOPIC_ARNS", TOPIC)
    config.get_settings.cache_clear()
    services_module.services.cache_clear()
    app = create_app("recognize", str(functions_dir() / "recognize" / "main.py"), "http")
    yield SnsRecognize(app.test_client(), fake)
    config.get_settings.cache_clear()
    services_module.services.cache_clear()
