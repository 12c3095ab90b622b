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

ZERO_GOALS = ("bad_inputs_crashed", "frames_lost", "duplicate_alerts", "auth_bypasses")


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
    out = {k: FIGURES.get(k, 0) for k in ("bad_inputs_tried", *ZERO_GOALS, "faults_injected")}
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
    """Uploads frames exactly as the edge agent does, with the edge detector's boxes."""

    def __init__(self, storage: object) -> None:
        import threading

        from facewatch.faces.detection import HaarDetector

        self.storage = storage
        self.detector = HaarDetector()
        self._boxes: dict[int, tuple] = {}
        # One cascade object must not run in two threads at once (OpenCV's is not
        # thread-safe); detection happens once per distinct image anyway.
        self._lock = threading.Lock()

    def upload(self, image: object, household: str, camera: str, at: object) -> str:
        from facewatch.edge.uploads import frame_object, put_frame
        from facewatch.frames import FrameMeta

        with self._lock:
            if id(image) not in self._boxes:
                self._boxes[id(image)] = tuple(self.detector.detect(image))
            boxes = self._boxes[id(image)]
        meta = FrameMeta(household, camera, at, image.shape[1], image.shape[0], boxes)
        key, jpeg, metadata = frame_object(image, meta)
        put_frame(self.storage, key, jpeg, metadata)
        return key


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
