"""Each main.py is also an AWS Lambda handler. Called in process with the events Lambda
passes (an S3 notification, a Function URL request, an async-invoke payload), against a
real S3 server and a real SMTP server."""

from __future__ import annotations

import base64
import importlib.util
import json
from datetime import UTC, datetime

import cv2
import pytest

from facewatch import config
from facewatch.frames import FrameMeta
from facewatch.layout import FrameKey
from facewatch.local.processes import functions_dir
from facewatch.recognize.known import enroll
from facewatch.web import services as runtime
from tests.conftest import TESTDATA, clip_frame, s3_event

pytestmark = pytest.mark.integration
PHOTO = (TESTDATA / "faces" / "obama3.jpg").read_bytes()


def load(name):
    spec = importlib.util.spec_from_file_location(f"lambda_{name}", functions_dir() / name / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def env(monkeypatch, storage, s3_endpoint, outbox):
    for key, value in {
        "FACEWATCH_S3_ENDPOINT_URL": s3_endpoint,
        "FACEWATCH_BUCKET": storage.bucket,
        "FACEWATCH_SMTP_HOST": "127.0.0.1",
        "FACEWATCH_SMTP_PORT": str(outbox.port),
        "FACEWATCH_MAIL_TO": "family@example.test",
        "FACEWATCH_DETECT_TOKEN": "t0ken-0123456789abcdef0123456789",
        "FACEWATCH_DETECT_TOKEN_SCOPE": "deployment",
    }.items():
        monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    runtime.services.cache_clear()
    yield
    config.get_settings.cache_clear()
    runtime.services.cache_clear()


def test_detect_handler_takes_a_function_url_request(env, storage):
    event = {
        "headers": {"authorization": "Bearer t0ken-0123456789abcdef0123456789", "content-type": "image/jpeg"},
        "queryStringParameters": {"household": "home", "camera": "door"},
        "body": base64.b64encode(PHOTO).decode(),
        "isBase64Encoded": True,
    }
    reply = load("detect").handler(event, None)
    assert reply["statusCode"] == 201
    key = json.loads(reply["body"])["stored"]
    assert storage.exists(key)
    refused = load("detect").handler({**event, "headers": {}}, None)
    assert refused["statusCode"] == 401


@pytest.mark.parametrize("expiry", ["365", ""], ids=["lifecycle-rule", "no-rule"])
def test_detect_tags_a_frame_for_the_lifecycle_rule_only_when_there_is_one(env, storage, monkeypatch, expiry):
    """With FrameExpiryDays (FACEWATCH_FRAME_EXPIRY_DAYS) the stored frame carries the tag
    the bucket's rule expires by (and retention lifts from marked frames); without, none."""
    monkeypatch.setenv("FACEWATCH_FRAME_EXPIRY_DAYS", expiry)
    config.get_settings.cache_clear()
    runtime.services.cache_clear()
    event = {
        "headers": {"authorization": "Bearer t0ken-0123456789abcdef0123456789"},
        "queryStringParameters": {"household": "home", "camera": "door"},
        "body": base64.b64encode(PHOTO).decode(),
        "isBase64Encoded": True,
    }
    reply = load("detect").handler(event, None)
    key = json.loads(reply["body"])["stored"]
    tags = storage.client.get_object_tagging(Bucket=storage.bucket, Key=key)["TagSet"]
    expected = [{"Key": "facewatch-expiry", "Value": "frame"}] if expiry else []
    assert tags == expected


def test_detect_handler_applies_the_upload_limit_to_the_decoded_body(env, storage, monkeypatch):
    monkeypatch.setenv("FACEWATCH_MAX_UPLOAD_BYTES", str(len(PHOTO) - 1))
    config.get_settings.cache_clear()
    runtime.services.cache_clear()
    event = {
        "headers": {"authorization": "Bearer t0ken-0123456789abcdef0123456789"},
        "queryStringParameters": {"household": "home", "camera": "door"},
        "body": base64.b64encode(PHOTO).decode(),
        "isBase64Encoded": True,
    }
    reply = load("detect").handler(event, None)
    assert reply["statusCode"] == 413, reply
    assert f"over the limit of {len(PHOTO) - 1}" in reply["body"]
    assert list(storage.list_keys("households/")) == []


def test_recognize_handler_takes_an_s3_notification(env, storage):
    from facewatch.edge.uploads import store_face_frame
    from facewatch.faces.detection import HaarDetector

    known = TESTDATA / "known" / "obama"
    enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in sorted(known.iterdir())], 40_000_000)
    image = cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))
    meta = FrameMeta(
        "home", "door", datetime.now(UTC), image.shape[1], image.shape[0], tuple(HaarDetector().detect(image))
    )
    key = store_face_frame(storage, image, meta)
    out = load("recognize").handler(s3_event(storage.bucket, key), None)
    assert out["status"] == 200
    assert out["outcomes"][0]["faces"] == ["known"]
    assert storage.exists(FrameKey.parse(key).result_key)


def test_recognize_handler_raises_for_retryable_failures_and_returns_for_bad_events(env, storage):
    bad = load("recognize").handler({"nonsense": True}, None)
    assert bad["status"] == 400  # not retried: it would never succeed
    storage.client.delete_bucket(Bucket=storage.bucket)
    with pytest.raises(RuntimeError, match="BucketMissing"):
        # Lambda retries a raised error, then hands the event to the on-failure destination.
        load("recognize").handler(
            s3_event(storage.bucket, "households/home/frames/d/20261125/140312000005-abcdef123456.jpg"), None
        )


def test_notify_handler_takes_an_async_invoke_payload(env, storage, outbox):
    from facewatch.edge.uploads import store_face_frame

    frame = clip_frame(90)
    meta = FrameMeta("home", "door", datetime.now(UTC), frame.shape[1], frame.shape[0], ())
    key = store_face_frame(storage, frame, meta)
    alert = {
        "alert_id": "lambda1",
        "household": "home",
        "camera": "door",
        "bucket": storage.bucket,
        "frame_key": key,
        "captured_at": datetime.now(UTC).isoformat(),
        "faces_in_frame": 1,
        "strangers": [{"box": {"x": 156, "y": 82, "w": 94, "h": 94}, "verdict": "stranger"}],
    }
    out = load("notify").handler(alert, None)
    assert out["status"] == 200
    assert len(outbox.messages) == 1
    assert load("notify").handler(alert, None)["delivered"] == "already sent"
    assert len(outbox.messages) == 1
