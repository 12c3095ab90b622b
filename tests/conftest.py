"""Shared fixtures. Real servers over HTTP, started once per session: a moto S3 server
(or the S3 server named by FACEWATCH_TEST_S3_ENDPOINT), functions-framework processes and
aiosmtpd live in the tests that need them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.alerts.mail_transport import SmtpTransport
from facewatch.edge.uploads import store_face_frame
from facewatch.frames import Box, FrameMeta
from facewatch.local.processes import LOCAL_CREDENTIALS, free_port
from facewatch.local.stack import MotoServer
from facewatch.records import Alert, FaceVerdict
from facewatch.store.storage import Storage

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "testdata"
EVENTS = Path(__file__).resolve().parent / "events"


# The test deployment's webhook receivers and MQTT brokers run on this machine: loopback is
# allowed for them here (and in every process the tests start, which inherit it), as
# FACEWATCH_OUTBOUND_ALLOW_LOOPBACK is meant for; no deployment sets it. The attacks on the
# outbound policy (tests/reliability/test_attacks_delivery.py) turn it off.
os.environ.setdefault("FACEWATCH_OUTBOUND_ALLOW_LOOPBACK", "true")

NOTIFY_TOKEN = "test-suite-notify-token-0123456789abcdef"
"""notify's bearer token in every function start_function starts, unless the test gives its
own: notify takes no alert over HTTP without one, and recognize sends it."""
NOTIFY_AUTH = {"Authorization": f"Bearer {NOTIFY_TOKEN}"}

# Fixtures of real servers kept in their own modules.
pytest_plugins = ["tests.mqtt_broker", "tests.browser", "tests.console_site"]

# The fixtures that start a server (a process, or aiosmtpd), here or in a module of tests/;
# the fixtures built on them (storage, s3_client, page, site, subscriber...) start them too.
SERVER_FIXTURES = frozenset(
    {
        "s3_endpoint",
        "start_function",
        "outbox",
        "browser",
        "mosquitto",
        "rtsp_camera",
        "running",
        "stack",
        "weed_stack",
        "moto_stack",
    }
)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that starts a server is an integration test: `make unit` (-m "not integration")
    stays the fast tier only while each such test says so."""
    if item.get_closest_marker("integration") is not None:
        return
    servers = sorted(SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    if servers:
        pytest.fail(
            f"{item.nodeid} starts a server ({', '.join(servers)}) but is not marked integration: "
            "add pytest.mark.integration (pytestmark for a whole module)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("FACEWATCH_TEST_S3_ENDPOINT")
    if given:
        yield given
        return
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in LOCAL_CREDENTIALS}
    os.environ.update({k: os.environ.get(f"FACEWATCH_TEST_{k}", v) for k, v in LOCAL_CREDENTIALS.items()})
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def s3_client(s3_endpoint: str, aws_env: None) -> object:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def storage(s3_client: object) -> Storage:
    """A fresh bucket per test, so tests never see each other's objects."""
    store = Storage(s3_client, f"fw-test-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    return store


def copy_bucket(source: Storage, target: Storage) -> Storage:
    """Every object of `source` into `target`, server-side (ETags are kept: the results'
    encodings_etag still names the stored known set)."""
    for key in source.list_keys(""):
        target.client.copy_object(
            Bucket=target.bucket, Key=key, CopySource={"Bucket": source.bucket, "Key": key}
        )
    return target


def run_cli(
    storage: Storage, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`facewatch ARGS` as a user runs it, pointed at this test's bucket (`env`: more
    FACEWATCH_* settings)."""
    env = {
        **os.environ,
        **(env or {}),
        "FACEWATCH_S3_ENDPOINT_URL": storage.client.meta.endpoint_url,
        "FACEWATCH_BUCKET": storage.bucket,
        "COLUMNS": "200",  # rich would cut ids short on a narrow terminal
    }
    return subprocess.run(
        [sys.executable, "-m", "facewatch.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read(path: Path) -> bytes:
    return path.read_bytes()


def make_video(photo: Path, out: Path, *, seconds: float = 3.0, fps: int = 10, width: int = 640) -> Path:
    """A short clip of a still photo drifting slowly, as a camera would see someone standing
    at the door."""
    image = cv2.imread(str(photo))
    scale = width / image.shape[1]
    image = cv2.resize(image, (width, int(image.shape[0] * scale) // 2 * 2))
    h, w = image.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(int(seconds * fps)):
        shift = np.float32([[1, 0, (i % 7) - 3], [0, 1, 0]])
        writer.write(cv2.warpAffine(image, shift, (w, h), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return out


@pytest.fixture
def start_function(tmp_path: Path, s3_endpoint: str, aws_env: None) -> Iterator[object]:
    """Start functions as real functions-framework processes over HTTP; stopped after the test.
    Each has notify's token (NOTIFY_TOKEN) unless the test sets FACEWATCH_NOTIFY_TOKEN."""
    import sys

    from facewatch.local.processes import Process, free_port, functions_dir

    started: list[Process] = []

    def start(name: str, **env: str) -> Process:
        port = free_port()
        ff = Path(sys.executable).with_name("functions-framework")
        process = Process(
            name,
            [
                str(ff),
                f"--target={name}",
                f"--source={functions_dir() / name / 'main.py'}",
                "--signature-type=http",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            {
                **os.environ,
                "FACEWATCH_S3_ENDPOINT_URL": s3_endpoint,
                "FACEWATCH_NOTIFY_TOKEN": NOTIFY_TOKEN,
                "PYTHONUNBUFFERED": "1",
                **env,
            },
            tmp_path / f"{name}-{port}.log",
            f"http://127.0.0.1:{port}/",
        )
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[object]:
    from facewatch.local.outbox import OutboxServer

    server = OutboxServer(tmp_path / "outbox").start()
    yield server
    server.stop()


def clip_frame(index: int = 90) -> np.ndarray:
    """A frame of the bundled clip (people nobody in testdata/known is)."""
    capture = cv2.VideoCapture(str(TESTDATA / "video" / "short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


def s3_event(bucket: str, key: str, etag: str | None = None, name: str = "ObjectCreated:Put") -> dict:
    """An S3 event notification record as S3 (and moto) sends it: the key URL-encoded."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-25T03:17:24.955Z",
                "eventName": name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": 1,
                        "eTag": etag,
                        "sequencer": "0A1B",
                    },
                },
            }
        ]
    }


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict]]]:
    """A webhook receiver: its URL, and the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


NO_EMAIL = SmtpTransport("127.0.0.1", free_port())
"""The deployment's email channel, for households that do not use it: nothing listens there."""


def stranger_alert(storage: Storage, alert_id: str = "a1", household: str = "home", **kw: object) -> Alert:
    """An alert about the stranger in a stored frame of the bundled clip, at camera door;
    `kw` sets any other field of the alert."""
    frame = clip_frame()
    meta = FrameMeta(household, "door", datetime.now(UTC), frame.shape[1], frame.shape[0], ())
    fields: dict[str, object] = {
        "alert_id": alert_id,
        "household": household,
        "camera": "door",
        "bucket": storage.bucket,
        "frame_key": store_face_frame(storage, frame, meta),
        "captured_at": datetime.now(UTC),
        "faces_in_frame": 1,
        "faces": [FaceVerdict(box=Box(156, 82, 94, 94), verdict="stranger")],
    }
    return Alert.model_validate({**fields, **kw})
