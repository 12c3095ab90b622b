"""Attacks from the security review of issue 24's work, made as an attacker would: storage
events at a recognize that takes SNS but has no webhook token, SNS retries while a first
delivery is still being handled, alerts at a notify without a token, a household's URLs
aimed at the deployment's own services or at refused addresses in IPv6 dress, a look-alike
SNS certificate host, dead letters planted in another household's folder, a proxy in the
environment of recognize's hand-over, and a face index in another script's digits.

recognize and notify run as real functions-framework processes where the request needs no
SNS signature; SNS's signed messages go through recognize's functions-framework app in this
process (SNS's certificate can only be stood in for there, as in test_sns_http.py).

Each attempt adds to `attacks_tried`; one that got through adds to `attack_bypasses`."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import cv2
import pytest
import requests
from pydantic import SecretStr

from facewatch import config
from facewatch.alerts.dead_letters import retry_dead_letters
from facewatch.alerts.handover import HttpNotifier
from facewatch.alerts.mail_transport import SmtpTransport
from facewatch.exceptions import AlertError, BadKey
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import FrameKey, dead_alert_key, household_settings_key
from facewatch.local.processes import free_port
from facewatch.records import Alert, DeliveryStatus
from facewatch.store.storage import Storage
from facewatch.web.handlers import notify as handle_notify
from facewatch.web.services import Services
from facewatch.web.sns import sns_message
from facewatch.web.sns_replays import CLAIM_SECONDS, SeenMessages
from tests.conftest import NOTIFY_AUTH, NOTIFY_TOKEN, clip_frame, run_cli, s3_event
from tests.fake_sns import TOPIC
from tests.reliability.attacker import (
    FRAME,
    SnsRecognize,
    alert_for,
    attacked,
    dead_letters,
    frame_key,
    snapshot,
    sns_notification,
    sns_recognize,
)

pytestmark = pytest.mark.integration

SECRET_PATH = "api/webhook/SECRET-HA-WEBHOOK-ID-9a0b"


# --- 1. recognize with SNS topics and no webhook token ---------------------------------------------


def test_recognize_taking_sns_without_a_webhook_token_takes_nothing_unsigned(
    start_function, storage, figures
):
    """FACEWATCH_SNS_TOPIC_ARNS set, FACEWATCH_WEBHOOK_TOKEN not: a plain S3 event, a MinIO
    webhook, an SNS-looking Notification without a signature (with and without SNS's
    header) and a CloudEvent are all storage events anyone could send; none is acted on."""
    recognize = start_function(
        "recognize",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SNS_TOPIC_ARNS=TOPIC,
        FACEWATCH_WEBHOOK_TOKEN="",
    )
    event = s3_event(storage.bucket, FRAME, name="ObjectRemoved:Delete")
    unsigned = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Message": json.dumps(event),
        "Timestamp": datetime.now(UTC).isoformat(),
    }
    cloud_event_headers = {
        "ce-type": "google.cloud.storage.object.v1.deleted",
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{storage.bucket}",
        "ce-subject": f"objects/{FRAME}",
    }
    attacks = [
        ("S3 event", event, {}),
        (
            "MinIO webhook",
            {"EventName": "s3:ObjectRemoved:Delete", "Key": f"{storage.bucket}/{FRAME}", **event},
            {},
        ),
        ("unsigned Notification", unsigned, {}),
        ("unsigned Notification, SNS's header", unsigned, {"x-amz-sns-message-type": "Notification"}),
        ("CloudEvent", {"bucket": storage.bucket, "name": FRAME}, cloud_event_headers),
        ("S3 event, a made-up bearer", event, {"Authorization": "Bearer anything"}),
    ]
    before = snapshot(storage)
    for what, body, headers in attacks:
        response = requests.post(recognize.url, json=body, headers=headers, timeout=60)
        acted = response.status_code == 200 and bool(response.json().get("outcomes"))
        attacked(figures, acted or response.status_code != 401)
        assert response.status_code == 401, (what, response.status_code, response.text)
    assert snapshot(storage) == before


# --- 2. an SNS retry while the first delivery is still being handled -------------------------------


def test_an_sns_retry_during_a_slow_or_dead_first_handling_is_not_lost(recognize_app, storage, figures):
    """The first delivery's handler holds the MessageId's claim and is slow (past SNS's 15 s)
    or dies. SNS's retries meanwhile must not be told 200 (SNS would stop retrying: the
    message lost); once the claim expires, a retry is handled; after that, a duplicate."""
    payload = recognize_app.sns.sign(sns_notification(storage.bucket))
    message = sns_message(json.dumps(payload).encode(), {})
    assert message is not None
    seen = SeenMessages(storage)
    stamp = datetime.fromisoformat(payload["Timestamp"].replace("Z", "+00:00"))
    claim = seen.take(message, stamp)  # the first delivery, still being handled
    assert isinstance(claim, str)

    retry = recognize_app.post(payload)
    lost = retry.status_code == 200
    attacked(figures, lost)
    assert retry.status_code == 503, retry.get_json()
    assert storage.get_json(claim)["done"] is False, "the claim is left to its holder"

    # The first handler died: its claim ages past CLAIM_SECONDS.
    record = storage.get_json(claim)
    old = datetime.now(UTC) - timedelta(seconds=CLAIM_SECONDS + 30)
    storage.put_json(claim, {**record, "claimed_at": old.isoformat()})
    taken = recognize_app.post(payload)
    attacked(figures, not (taken.status_code == 200 and taken.get_json().get("outcomes")))
    assert taken.status_code == 200 and taken.get_json()["outcomes"][0]["key"] == FRAME, taken.get_json()

    again = recognize_app.post(payload)
    attacked(figures, bool(again.get_json().get("outcomes")))
    assert again.status_code == 200 and again.get_json()["duplicate"] == payload["MessageId"]


# --- 3. notify without a token ---------------------------------------------------------------------


def test_notify_without_a_token_takes_no_alert_over_http(start_function, storage, capture, figures):
    """An operator forgot FACEWATCH_NOTIFY_TOKEN: notify over HTTP must not become an open
    alert sender. Every alert is refused 503 naming the setting, said once in its log; the
    household's webhook hears nothing and nothing is written."""
    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_NOTIFY_TOKEN="",
        FACEWATCH_OUTBOUND_ALLOW_LOOPBACK="true",
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT="9",
    )
    save_household_settings(
        storage,
        "eve",
        HouseholdSettings(channels=["webhook"], webhook_url=f"http://127.0.0.1:{capture.port}/h"),
    )
    before = snapshot(storage)
    for headers in ({}, {"Authorization": "Bearer anything-at-all"}, NOTIFY_AUTH):
        response = requests.post(
            notify.url, json=alert_for(storage, "eve", frame_key("eve")), headers=headers, timeout=60
        )
        attacked(figures, response.status_code < 400 or bool(capture.requests))
        assert response.status_code == 503, response.text
        assert "FACEWATCH_NOTIFY_TOKEN" in response.json()["message"]
    assert capture.requests == [] and snapshot(storage) == before
    assert notify.log_path.read_text().count("until FACEWATCH_NOTIFY_TOKEN is set") == 1


def test_notify_on_lambda_needs_no_token(storage, capture, monkeypatch):
    """Lambda's invoke arrives decoded (IAM checked it): no token is asked for."""
    monkeypatch.delenv("FACEWATCH_NOTIFY_TOKEN", raising=False)
    settings = config.Settings(
        _env_file=None,
        bucket=storage.bucket,
        s3_endpoint_url=storage.client.meta.endpoint_url,
        outbound_allow_loopback=True,
    )
    assert settings.notify_token is None
    save_household_settings(
        storage,
        "eve",
        HouseholdSettings(channels=["webhook"], webhook_url=f"http://127.0.0.1:{capture.port}/h"),
    )
    key = frame_key("eve")
    storage.put(key, cv2.imencode(".jpg", clip_frame())[1].tobytes(), content_type="image/jpeg")
    reply = handle_notify(Services(settings), body=alert_for(storage, "eve", key))
    assert reply.status == 200, reply.body
    assert len(capture.requests) == 1


# --- 4 and 6. a household's URLs aimed at the deployment's own services, or in IPv6 dress ----------


def own_name() -> str | None:
    """This machine's name when it resolves: stands for a deployment's service name (as
    `minio` or `outbox` under compose)."""
    name = socket.gethostname()
    try:
        socket.getaddrinfo(name, 0)
    except OSError:
        return None
    return name


def test_a_households_url_cannot_name_the_deployments_own_services(start_function, storage, capture, figures):
    """notify allows private addresses (as under compose) and, for the test's receivers,
    loopback; its mail server is known by this machine's name. A household's webhook and
    broker naming that host, and IPv6 forms of refused IPv4 addresses, are refused at
    connect time and kept as dead letters without their secret path."""
    name = own_name()
    if name is None:
        pytest.skip("this machine's name does not resolve")
    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_OUTBOUND_ALLOW_PRIVATE="true",
        FACEWATCH_OUTBOUND_ALLOW_LOOPBACK="true",
        FACEWATCH_SMTP_HOST=name,
        FACEWATCH_SMTP_PORT="9",
    )
    targets = [
        (
            "webhook to the mail server's host",
            HouseholdSettings(
                channels=["webhook"], webhook_url=f"http://{name}:{capture.port}/{SECRET_PATH}"
            ),
        ),
        (
            "broker on the mail server's host",
            HouseholdSettings(channels=["mqtt"], mqtt_url=f"mqtt://{name}:{capture.port}"),
        ),
        (
            "IPv4-compatible metadata",
            HouseholdSettings(channels=["webhook"], webhook_url=f"http://[::169.254.169.254]/{SECRET_PATH}"),
        ),
        (
            "SIIT metadata",
            HouseholdSettings(channels=["webhook"], webhook_url=f"http://[::ffff:0:a9fe:a9fe]/{SECRET_PATH}"),
        ),
        (
            "local-use NAT64 metadata",
            HouseholdSettings(
                channels=["webhook"], webhook_url=f"http://[64:ff9b:1::a9fe:a9fe]/{SECRET_PATH}"
            ),
        ),
    ]
    for i, (what, own) in enumerate(targets):
        household = f"attacker{i}"
        save_household_settings(storage, household, own)
        key = frame_key(household)
        storage.put(key, cv2.imencode(".jpg", clip_frame())[1].tobytes(), content_type="image/jpeg")
        response = requests.post(
            notify.url, json=alert_for(storage, household, key), headers=NOTIFY_AUTH, timeout=90
        )
        letter = dead_letters(storage, household)
        refused = "refused" in letter
        attacked(figures, bool(capture.requests) or not refused)
        assert not capture.requests, what
        assert response.status_code == 202, (what, response.status_code, response.text)
        assert refused, (what, letter)
        assert "SECRET-HA" not in letter, what
    assert "SECRET-HA" not in notify.log_path.read_text()


def test_a_household_cannot_save_a_url_naming_the_deployments_own_services(storage, figures):
    name = own_name()
    if name is None:
        pytest.skip("this machine's name does not resolve")
    env = {
        "FACEWATCH_OUTBOUND_ALLOW_PRIVATE": "true",
        "FACEWATCH_OUTBOUND_ALLOW_LOOPBACK": "true",
        "FACEWATCH_SMTP_HOST": name,
    }
    for option, url in [
        ("--webhook-url", f"http://{name}:9000/{SECRET_PATH}"),
        ("--webhook-url", f"http://{name.upper()}.:9000/x"),
        ("--mqtt-url", f"mqtt://u:pw@{name}:1883"),
        ("--webhook-url", "http://[::127.0.0.1]:8123/x"),
    ]:
        env["FACEWATCH_OUTBOUND_ALLOW_LOOPBACK"] = "false" if "::127" in url else "true"
        result = run_cli(storage, "household", "--household", "home", option, url, env=env)
        saved = storage.exists(household_settings_key("home"))
        attacked(figures, result.returncode == 0 or saved)
        assert result.returncode != 0 and not saved, (url, result.stdout, result.stderr)
        assert "refused" in result.stderr and "SECRET-HA" not in result.stderr and "pw@" not in result.stderr


# --- 5. a look-alike SNS certificate host ----------------------------------------------------------


def test_a_certificate_on_s3s_dash_region_endpoint_is_never_fetched(recognize_app, storage, figures):
    """`sns.s3-us-west-2.amazonaws.com` is S3 serving a bucket named `sns`, which anyone may
    own: a message signed with a key whose certificate sits there is refused unfetched."""
    for url in (
        "https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-0123.pem",
        "https://sns.s3-us-west-2.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/bucket/x.pem",
    ):
        payload = {**recognize_app.sns.sign(sns_notification(storage.bucket)), "SigningCertURL": url}
        response = recognize_app.post(payload)
        fetched = url in recognize_app.sns.gets or url in recognize_app.sns.cert_fetches
        attacked(figures, fetched or response.status_code != 401)
        assert response.status_code == 401 and not fetched, (url, response.get_json())


# --- 7. dead letters planted outside their household ----------------------------------------------


def test_a_dead_letter_is_sent_only_within_the_household_whose_folder_holds_it(storage, capture, figures):
    """Whoever can write eve's folder plants letters: one of eve's alerts naming home's frame
    (eve's webhook would get home's picture), one of home's alert kept in eve's folder
    (home's channels spammed at eve's will). Neither is sent; both are reported and kept."""
    for household in ("eve", "home"):
        save_household_settings(
            storage,
            household,
            HouseholdSettings(
                channels=["webhook"], webhook_url=f"http://127.0.0.1:{capture.port}/{household}"
            ),
        )
    victim = frame_key("home")
    storage.put(victim, cv2.imencode(".jpg", clip_frame())[1].tobytes(), content_type="image/jpeg")
    planted = {
        "eve-names-home": alert_for(storage, "eve", victim, alert_id="eve-names-home"),
        "home-in-eve": alert_for(storage, "home", victim, alert_id="home-in-eve"),
    }
    for alert_id, alert in planted.items():
        storage.put_json(dead_alert_key("eve", alert_id), {"alert": alert, "errors": ["x"]})
    settings = config.Settings(
        _env_file=None,
        bucket=storage.bucket,
        s3_endpoint_url=storage.client.meta.endpoint_url,
        outbound_allow_loopback=True,
    )
    outcomes = retry_dead_letters(
        storage=storage, mail=SmtpTransport("127.0.0.1", free_port()), settings=settings, household="eve"
    )
    attacked(figures, bool(capture.requests))
    attacked(figures, any(o.status is not DeliveryStatus.DEAD_LETTERED for o in outcomes.values()))
    assert capture.requests == []
    assert set(outcomes) == set(planted)
    assert all(o.status is DeliveryStatus.DEAD_LETTERED for o in outcomes.values()), outcomes
    assert all(storage.exists(dead_alert_key("eve", a)) for a in planted), "a bad letter is kept"


# --- 8. a proxy in recognize's environment; a face index in another script's digits ------------------


def test_recognizes_hand_over_gives_no_proxy_notifys_token(capture, monkeypatch, figures):
    """HTTP(S)_PROXY in recognize's environment (set for something else, or by an attacker
    with a say in it) must not receive notify's bearer token."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy = f"http://127.0.0.1:{capture.port}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    notifier = HttpNotifier(f"http://127.0.0.1:{free_port()}/", token=SecretStr(NOTIFY_TOKEN), timeout=5)
    alert = Alert.model_validate(
        {
            "alert_id": "a1",
            "household": "home",
            "camera": "door",
            "bucket": "b",
            "frame_key": frame_key("home"),
            "captured_at": datetime.now(UTC).isoformat(),
            "faces_in_frame": 1,
            "faces": [{"box": {"x": 1, "y": 1, "w": 9, "h": 9}, "verdict": "stranger"}],
        }
    )
    with pytest.raises(AlertError):  # nothing listens where notify is said to be
        notifier.send(alert)
    leaked = any(NOTIFY_TOKEN in " ".join(r.headers.values()) for r in capture.requests)
    attacked(figures, leaked or bool(capture.requests))
    assert capture.requests == []


@pytest.mark.parametrize(
    "index", ["٣", "３", "³", "0٣"], ids=["arabic-indic", "fullwidth", "superscript", "mixed"]
)
def test_a_verdict_id_takes_only_ascii_digits_for_the_face(index, figures):
    verdict_id = f"home/door/20261125/140312000005-1b6c52bf41e0#{index}"
    try:
        FrameKey.from_verdict_id(verdict_id)
        through = True
    except BadKey:
        through = False
    attacked(figures, through)
    assert not through
    assert FrameKey.from_verdict_id("home/door/20261125/140312000005-1b6c52bf41e0#3")[1] == 3


@pytest.fixture
def recognize_app(monkeypatch: pytest.MonkeyPatch, storage: Storage) -> Iterator[SnsRecognize]:
    yield from sns_recognize(monkeypatch, storage, "review-attack-webhook-token-0123456789abcdef")
