"""Who may do what: tokens on the HTTP ways in, signed links, expiring presigned links, no
secret in any log line or error, and households kept apart."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime, timedelta

import cv2
import pytest
import requests

from facewatch.frames import Box
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import encodings_key
from facewatch.tokens import household_detect_token, sign_face
from tests.conftest import NOTIFY_AUTH, TESTDATA, clip_frame
from tests.reliability.conftest import Frames, known_gallery_bytes, wait_for_results

pytestmark = pytest.mark.integration
PHOTO = (TESTDATA / "faces" / "obama3.jpg").read_bytes()
SECRETS = {
    "detect": "detect-token-9f8e7d-0123456789abcdef",
    "webhook": "webhook-token-1a2b3c-0123456789abcdef",
    "smtp": "smtp-password-55aa77",
    "link": "link-secret-c0ffee-0123456789abcdef",
}
# What home's cameras present: the default scope is per household.
HOME_TOKEN = household_detect_token(SECRETS["detect"], "home")
WRONG = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic ZGV0ZWN0OnRva2Vu"},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Bearer {HOME_TOKEN[:-1]}"},  # a prefix of the real one
    {"Authorization": f"Bearer {HOME_TOKEN}0"},  # the real one and more
    {"Authorization": f"Bearer {SECRETS['detect']}"},  # the deployment's own: no camera's
    {"X-Api-Key": HOME_TOKEN},
]


def test_detect_and_recognize_refuse_missing_or_wrong_tokens(start_function, storage, figures, s3_endpoint):
    detect = start_function(
        "detect", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_DETECT_TOKEN=SECRETS["detect"]
    )
    recognize = start_function(
        "recognize", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_WEBHOOK_TOKEN=SECRETS["webhook"]
    )
    for headers in WRONG:
        for url, body in (
            (detect.url + "?household=home&camera=door", PHOTO),
            (recognize.url, b'{"Records": []}'),
        ):
            figures["auth_attempts"] += 1
            response = requests.post(url, data=body, headers=headers, timeout=30)
            figures["auth_bypasses"] += response.status_code < 400
            assert response.status_code == 401, (url, headers, response.status_code)
            assert all(secret not in response.text for secret in [*SECRETS.values(), HOME_TOKEN])
    assert list(storage.list_keys("households/")) == []
    ok = requests.post(
        detect.url + "?household=home&camera=door",
        data=PHOTO,
        headers={"Authorization": f"Bearer {HOME_TOKEN}"},
        timeout=30,
    )
    assert ok.status_code == 201
    for process in (detect, recognize):
        log = process.log_path.read_text()
        assert "401" in log
        assert all(secret not in log for secret in SECRETS.values())


def test_the_token_check_is_constant_time():
    import inspect

    from facewatch.web import transport as web

    assert "hmac.compare_digest" in inspect.getsource(web.require_bearer)


def test_enroll_links_are_signed_expiring_and_bound(start_function, storage, figures):
    feedback = start_function(
        "feedback", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_LINK_SECRET=SECRETS["link"]
    )
    key = Frames(storage).upload(clip_frame(90), "home", "door", datetime.now(UTC))
    now = datetime.now(UTC)
    good = sign_face(SECRETS["link"], "home", key, Box(150, 80, 100, 100), now=now, ttl=timedelta(days=1))
    forged = [
        sign_face("not-our-secret", "home", key, Box(150, 80, 100, 100), now=now, ttl=timedelta(days=1)),
        sign_face(
            SECRETS["link"],
            "home",
            key,
            Box(150, 80, 100, 100),
            now=now - timedelta(days=2),
            ttl=timedelta(days=1),
        ),
        sign_face(SECRETS["link"], "shop", key, Box(150, 80, 100, 100), now=now, ttl=timedelta(days=1)),
        good[:-3] + "AAA",
        good.split(".")[0],
        "",
    ]
    for token in forged:
        figures["auth_attempts"] += 1
        response = requests.post(feedback.url, data={"token": token, "name": "Mallory"}, timeout=30)
        figures["auth_bypasses"] += response.status_code < 400
        assert response.status_code == 400
    assert list(storage.list_keys("households/home/known/")) == []
    assert list(storage.list_keys("households/shop/")) == []


def test_presigned_links_expire(storage, s3_endpoint):
    import os
    from urllib.parse import parse_qs, urlparse

    from facewatch.config import Settings
    from facewatch.store.storage import Storage, make_s3_client

    # The product's own client: SigV4, whose links carry a signed date and lifetime.
    product = Storage(make_s3_client(Settings(s3_endpoint_url=s3_endpoint)), storage.bucket)
    product.put("households/home/frames/x.jpg", PHOTO)
    url = product.presigned_url("households/home/frames/x.jpg", expires_seconds=1)
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["1"]
    assert "host" in query["X-Amz-SignedHeaders"][0]
    assert requests.get(url, timeout=10).status_code == 200
    if not os.environ.get("FACEWATCH_TEST_S3_ENDPOINT"):
        return  # moto does not check signatures; a real S3 server (seaweedfs, MinIO) does
    time.sleep(2.5)
    assert requests.get(url, timeout=10).status_code == 403


def test_no_secret_in_logs_or_errors(start_function, storage, figures, outbox):
    from facewatch.local.processes import free_port

    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(free_port()),
        FACEWATCH_SMTP_USERNAME="alice",
        FACEWATCH_SMTP_PASSWORD=SECRETS["smtp"],
        FACEWATCH_MAIL_TO="family@example.test",
        FACEWATCH_LINK_SECRET=SECRETS["link"],
    )
    key = Frames(storage).upload(clip_frame(90), "home", "door", datetime.now(UTC))
    alert = {
        "alert_id": "sec1",
        "household": "home",
        "camera": "door",
        "bucket": storage.bucket,
        "frame_key": key,
        "captured_at": datetime.now(UTC).isoformat(),
        "faces_in_frame": 1,
        "strangers": [{"box": {"x": 150, "y": 80, "w": 100, "h": 100}, "verdict": "stranger"}],
    }
    response = requests.post(notify.url, json=alert, headers=NOTIFY_AUTH, timeout=60)
    assert response.status_code == 202  # kept as a dead letter
    dead = storage.get("households/home/alerts/dead/sec1.json").body.decode()
    import os

    aws_secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    for text in (response.text, dead, notify.log_path.read_text()):
        assert SECRETS["smtp"] not in text
        assert SECRETS["link"] not in text
        assert aws_secret not in text


def test_households_never_see_each_other(stack, figures):
    """Household a knows Obama; household b knows nobody but has its own recipients. Obama at
    b's door is a stranger to b, and b's alert goes only to b's recipients."""
    storage = stack.storage()
    storage.put(encodings_key("house-a"), known_gallery_bytes(storage))
    save_household_settings(storage, "house-a", HouseholdSettings(mail_to=["a@example.test"]))
    save_household_settings(storage, "house-b", HouseholdSettings(mail_to=["b@example.test"]))
    from facewatch.faces.gallery import Gallery

    storage.put(encodings_key("house-b"), Gallery().to_bytes())
    obama = cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))
    frames = Frames(storage)
    at = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    key_a = frames.upload(obama, "house-a", "door", at)
    key_b = frames.upload(obama, "house-b", "door", at)
    stack.wait_idle(timeout=120)
    results = wait_for_results(storage, [key_a, key_b], timeout=30)
    assert [f["verdict"] for f in results[key_a]["faces"]] == ["known"]
    assert [f["verdict"] for f in results[key_b]["faces"]] == ["stranger"]
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in stack.outbox_server.messages
    ]
    to_b = [m for m in sent if "house-b" in m.get_body(preferencelist=("plain",)).get_content()]
    assert len(to_b) == 1
    assert to_b[0]["To"] == "b@example.test"
    assert not [m for m in sent if "a@example.test" in str(m["To"])]
