"""Alerts people can trust, end to end over HTTP: recognize, notify and feedback as real
functions-framework processes, a real S3 server, a real SMTP server."""

import email
import email.policy
import json
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import cv2
import pytest
import requests

from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.layout import FrameKey, dead_alerts_prefix
from facewatch.local.processes import free_port
from facewatch.recognize.known import enroll, load_gallery
from facewatch.records import AlertOutcome, DeliveryStatus
from tests.conftest import TESTDATA, clip_frame, s3_event
from tests.waiting import poll

pytestmark = pytest.mark.integration
TOKEN = "webhook-token-for-tests-0123456789abcdef"
SECRET = "link-secret-for-tests-0123456789abcdef"
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
STRANGER = clip_frame()
SECOND_STRANGER = cv2.imread(str(TESTDATA / "known" / "biden" / "biden.jpg"))


def start_recognize(start_function, storage, notify_url):
    return start_function(
        "recognize",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_NOTIFY_URL=notify_url,
        FACEWATCH_WEBHOOK_TOKEN=TOKEN,
        FACEWATCH_ENCODINGS_CHECK_SECONDS="0",
    )


def start_notify(start_function, storage, smtp_port, **env):
    return start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(smtp_port),
        FACEWATCH_MAIL_TO="family@example.test",
        FACEWATCH_LINK_SECRET=SECRET,
        **env,
    )


@pytest.fixture
def household(storage):
    known = TESTDATA / "known" / "obama"
    enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in sorted(known.iterdir())], 40_000_000)
    return "home"


@pytest.fixture
def alarm(start_function, storage, outbox, household):
    feedback = start_function("feedback", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_LINK_SECRET=SECRET)
    notify = start_notify(start_function, storage, outbox.port, FACEWATCH_FEEDBACK_URL=feedback.url)
    recognize = start_recognize(start_function, storage, notify.url)
    return recognize, notify, feedback


def upload(storage, image, at, camera="door"):
    boxes = tuple(HaarDetector().detect(image))
    return store_face_frame(
        storage, image, FrameMeta("home", camera, at, image.shape[1], image.shape[0], boxes)
    )


def deliver(recognize, storage, key, etag=None):
    etag = etag or storage.etag(key)
    response = requests.post(
        recognize.url,
        data=json.dumps(s3_event(storage.bucket, key, etag=etag)),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return storage.get_json(FrameKey.parse(key).result_key)


def wait_for(predicate, timeout=20.0):
    return poll(predicate, timeout)


def test_the_same_upload_delivered_three_times_sends_one_email(alarm, storage, outbox):
    recognize, _, _ = alarm
    key = upload(storage, STRANGER, T0)
    results = [deliver(recognize, storage, key) for _ in range(3)]
    assert results[0] == results[2]
    assert len(outbox.messages) == 1


def test_a_retry_after_a_crash_before_the_result_sends_no_second_email(alarm, storage, outbox):
    recognize, _, _ = alarm
    key = upload(storage, STRANGER, T0)
    deliver(recognize, storage, key)
    # As if recognize died after notify sent but before its result was written:
    storage.delete(FrameKey.parse(key).result_key)
    again = deliver(recognize, storage, key)
    assert [f["verdict"] for f in again["faces"]] == ["stranger"]
    assert len(outbox.messages) == 1


def test_one_stranger_at_the_door_for_a_minute_is_one_email(alarm, storage, outbox):
    recognize, _, _ = alarm
    for second in range(0, 60, 10):
        deliver(recognize, storage, upload(storage, STRANGER, T0 + timedelta(seconds=second)))
    assert len(outbox.messages) == 1
    message = email.message_from_bytes(outbox.messages[0].read_bytes(), policy=email.policy.default)
    assert message["X-Facewatch-Alert-Id"]


def test_two_strangers_in_one_window_are_two_emails(alarm, storage, outbox):
    recognize, _, _ = alarm
    first = deliver(recognize, storage, upload(storage, STRANGER, T0))
    second = deliver(recognize, storage, upload(storage, SECOND_STRANGER, T0 + timedelta(seconds=20)))
    assert first["faces"][0]["visit_id"] != second["faces"][0]["visit_id"]
    assert len(outbox.messages) == 2


def test_a_stranger_again_after_the_cooldown_is_a_new_email(alarm, storage, outbox):
    recognize, _, _ = alarm
    deliver(recognize, storage, upload(storage, STRANGER, T0))
    silent = deliver(recognize, storage, upload(storage, STRANGER, T0 + timedelta(minutes=20)))
    assert AlertOutcome.read(silent["faces"][0]["alert"]).status is DeliveryStatus.HELD_BACK
    deliver(recognize, storage, upload(storage, STRANGER, T0 + timedelta(hours=2)))
    assert len(outbox.messages) == 2


def test_smtp_down_for_the_first_attempts_the_email_arrives_once_it_is_back(
    start_function, storage, household, tmp_path
):
    from facewatch.local.outbox import OutboxServer

    port = free_port()
    notify = start_notify(start_function, storage, port)
    recognize = start_recognize(start_function, storage, notify.url)
    server = OutboxServer(tmp_path / "late-outbox", port=port)

    def start_once_refused() -> None:
        # Not on a timer: on a loaded machine the first attempt can come after any delay.
        wait_for(lambda: "retrying" in notify.log_path.read_text(), 60)
        server.start()

    threading.Thread(target=start_once_refused, daemon=True).start()
    try:
        result = deliver(recognize, storage, upload(storage, STRANGER, T0))
        assert AlertOutcome.read(result["faces"][0]["alert"]) == AlertOutcome(status=DeliveryStatus.SENT)
        assert len(server.messages) == 1
        assert "retrying" in notify.log_path.read_text()
    finally:
        wait_for(lambda: server.port, 5)
        server.stop()


def test_smtp_down_for_good_keeps_the_alert_and_alerts_retry_delivers_it(
    start_function, storage, household, tmp_path, s3_endpoint
):
    from facewatch.local.outbox import OutboxServer

    dead_port = free_port()
    notify = start_notify(start_function, storage, dead_port)
    recognize = start_recognize(start_function, storage, notify.url)
    deliver(recognize, storage, upload(storage, STRANGER, T0))
    [letter] = list(storage.list_keys(dead_alerts_prefix("home")))
    assert "refused" in json.dumps(storage.get_json(letter))

    with OutboxServer(tmp_path / "outbox-later") as server:
        env = {
            **__import__("os").environ,
            "FACEWATCH_S3_ENDPOINT_URL": s3_endpoint,
            "FACEWATCH_BUCKET": storage.bucket,
            "FACEWATCH_SMTP_HOST": "127.0.0.1",
            "FACEWATCH_SMTP_PORT": str(server.port),
            "FACEWATCH_MAIL_TO": "family@example.test",
        }
        done = subprocess.run(
            [sys.executable, "-m", "facewatch.cli", "alerts", "retry", "--household", "home"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "1 sent, 0 still failing" in done.stderr
        assert len(server.messages) == 1
    assert list(storage.list_keys(dead_alerts_prefix("home"))) == []


def known_link(eml_path):
    message = email.message_from_bytes(eml_path.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+\?token=[\w.-]+", text).group(0)


def test_the_enroll_link_adds_the_person_and_the_next_visit_sends_nothing(alarm, storage, outbox):
    recognize, _, _ = alarm
    deliver(recognize, storage, upload(storage, STRANGER, T0))
    link = known_link(outbox.messages[0])
    form = requests.get(link, timeout=30)
    assert form.status_code == 200
    assert "<form" in form.text
    token = link.split("token=")[1]
    done = requests.post(link.split("?")[0], data={"token": token, "name": "Lin-Manuel Miranda"}, timeout=60)
    assert done.status_code == 200, done.text
    assert "Lin-Manuel Miranda" in load_gallery(storage, "home")[0].people
    later = deliver(recognize, storage, upload(storage, STRANGER, T0 + timedelta(hours=3)))
    assert [f["verdict"] for f in later["faces"]] == ["known"]
    assert len(outbox.messages) == 1


@pytest.mark.parametrize("token", ["", "forged.token", "eyJoIjoiaG9tZSJ9.AAAA"])
def test_a_forged_token_is_refused(alarm, storage, token):
    _, _, feedback = alarm
    before = sorted(storage.list_keys("households/home/known/"))
    response = requests.post(feedback.url, data={"token": token, "name": "Mallory"}, timeout=30)
    assert response.status_code == 400
    assert sorted(storage.list_keys("households/home/known/")) == before


def test_an_expired_token_is_refused(alarm, storage):
    from facewatch.frames import Box
    from facewatch.tokens import sign_face

    _, _, feedback = alarm
    key = upload(storage, STRANGER, T0)
    old = sign_face(
        SECRET,
        "home",
        key,
        Box(1, 1, 50, 50),
        now=datetime.now(UTC) - timedelta(days=8),
        ttl=timedelta(days=7),
    )
    response = requests.post(feedback.url, data={"token": old, "name": "Mallory"}, timeout=30)
    assert response.status_code == 400
    assert "expired" in response.json()["message"]
