"""Attacks on the way from recognize to a household's channels, made as an attacker would:
forged alerts at notify, SNS messages dressed up or replayed at recognize, and a household's
webhook or MQTT broker URL aimed at the deployment's own insides (SSRF). notify runs as a
real functions-framework process; recognize's SNS path runs in-process through
functions-framework's app (SNS's signing certificate can only be stood in for there, as in
tests/integration/test_sns_http.py), on the same real S3 server. A real capture server
stands for the webhook receiver and for every target an attack aims at: each attack is
refused with nothing received by it and nothing changed in the bucket.

Each attempt adds to `attacks_tried`; one that got through adds to `attack_bypasses`."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import pytest
import requests

from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import household_settings_key
from facewatch.store.storage import Storage
from tests.conftest import clip_frame, run_cli, s3_event
from tests.reliability.attacker import (
    FRAME,
    Capture,
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

NOTIFY_TOKEN = "notify-token-5e6f7a8b9c0d-1f2e3d4c5b6a7988"
SECRET_PATH = "api/webhook/SECRET-HA-WEBHOOK-ID-77c1"


# --- where a server may stand: this machine's other addresses ----------------------------------


def lan_address() -> str | None:
    """An address of this machine (not loopback) that the outbound policy allows where
    private addresses are: for a server that looks allowed. None when it has none."""
    from facewatch.outbound import OutboundPolicy

    lan = OutboundPolicy(allow_private=True)
    for family, probe_to in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((probe_to, 9))  # no packet is sent: this only picks the route
                address = str(probe.getsockname()[0])
        except OSError:
            continue
        if lan.refusal(ipaddress.ip_address(address)) is None:
            return address
    return None


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# --- notify: forged alerts ------------------------------------------------------------------------


def start_notify(start_function: Any, storage: Storage, **env: str) -> Any:
    return start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_NOTIFY_TOKEN=NOTIFY_TOKEN,
        FACEWATCH_MAIL_TO="household@example.test",
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT="9",  # nothing listens: no email is ever meant to go out here
        **env,
    )


def test_forged_alerts_are_refused_by_notify(start_function, storage, capture, figures):
    """The attacker owns household `eve` (its webhook is the capture server) and can reach
    notify. Its alerts: none without the token; with the token, none for a frame of `home`
    (whose presigned URL the webhook would receive), none for another bucket, none with an
    id that would write outside its keys. Only the control, eve's own frame, is sent."""
    notify = start_notify(start_function, storage, FACEWATCH_OUTBOUND_ALLOW_LOOPBACK="true")
    save_household_settings(
        storage, "eve", HouseholdSettings(channels=["webhook"], webhook_url=capture.url())
    )
    victim = frame_key("home")
    storage.put(victim, b"home's frame", content_type="image/jpeg")
    before = snapshot(storage)
    auth = {"Authorization": f"Bearer {NOTIFY_TOKEN}"}
    attacks = [
        ("no token", alert_for(storage, "eve", frame_key("eve")), {}, 401),
        ("wrong token", alert_for(storage, "eve", frame_key("eve")), {"Authorization": "Bearer guess"}, 401),
        ("another household's frame", alert_for(storage, "eve", victim), auth, 400),
        (
            "a frame key that climbs out",
            alert_for(
                storage, "eve", frame_key("eve"), frame_key=f"households/eve/frames/door/../../../{victim}"
            ),
            auth,
            400,
        ),
        (
            "another bucket",
            alert_for(storage, "eve", frame_key("eve"), bucket="someone-elses-bucket"),
            auth,
            400,
        ),
        (
            "not a frame key",
            alert_for(storage, "eve", frame_key("eve"), frame_key=household_settings_key("home")),
            auth,
            400,
        ),
        (
            "an id that is a path",
            alert_for(storage, "eve", frame_key("eve"), alert_id="../../home/x"),
            auth,
            400,
        ),
    ]
    for what, alert, headers, status in attacks:
        response = requests.post(notify.url, json=alert, headers=headers, timeout=60)
        attacked(figures, response.status_code < 400 or bool(capture.requests))
        assert response.status_code == status, (what, response.status_code, response.text)
        assert capture.requests == [], what
        assert NOTIFY_TOKEN not in response.text
    assert snapshot(storage) == before, (
        "a refused alert leaves nothing in the bucket (no claim, no dead letter)"
    )
    # The control: eve's own frame, with the token, reaches eve's webhook.
    own = requests.post(
        notify.url, json=alert_for(storage, "eve", frame_key("eve")), headers=auth, timeout=60
    )
    assert own.status_code == 200, own.text
    assert len(capture.requests) == 1 and b"home" not in capture.requests[0].body
    assert NOTIFY_TOKEN not in notify.log_path.read_text()


# --- SNS: a genuine message dressed up or replayed ------------------------------------------------


SMUGGLED = "households/home/known/Eve/eve.jpg"


def test_sns_messages_dressed_up_or_replayed_are_refused(recognize, storage, figures):
    """A genuine signed notification, captured once: with `Records` of its own beside the
    signed Message, with CloudEvent headers, an hour and more later, sent again, and sent
    again with another eTag under the same MessageId: none is acted on again."""
    genuine = recognize.sns.sign(sns_notification(storage.bucket))
    first = recognize.post(genuine)
    assert first.status_code == 200 and first.get_json()["outcomes"][0]["key"] == FRAME, first.get_json()
    before = snapshot(storage)
    smuggled_records = s3_event(storage.bucket, SMUGGLED, name="ObjectRemoved:Delete")["Records"]
    fresh = recognize.sns.sign(sns_notification(storage.bucket))
    attacks = [
        ("extra Records", {**fresh, "Records": smuggled_records}, {}, 401),
        ("extra field", {**fresh, "Subject2": "x"}, {}, 401),
        (
            "ce-type header",
            fresh,
            {
                "ce-type": "google.cloud.storage.object.v1.deleted",
                "ce-specversion": "1.0",
                "ce-id": "1",
                "ce-source": "x",
            },
            401,
        ),
        (
            "stale Timestamp",
            recognize.sns.sign(sns_notification(storage.bucket, at=datetime.now(UTC) - timedelta(hours=2))),
            {},
            401,
        ),
        (
            "future Timestamp",
            recognize.sns.sign(sns_notification(storage.bucket, at=datetime.now(UTC) + timedelta(hours=1))),
            {},
            401,
        ),
        ("replayed", genuine, {}, 200),
        (
            "same MessageId, another eTag",
            recognize.sns.sign(
                sns_notification(storage.bucket, message_id=genuine["MessageId"], etag="ffff0000")
            ),
            {},
            200,
        ),
    ]
    for what, payload, headers, status in attacks:
        response = recognize.post(payload, **headers)
        body = response.get_json()
        acted = bool(body.get("outcomes")) if response.status_code == 200 else False
        attacked(
            figures, acted or response.status_code < 200 or (status == 401 and response.status_code != 401)
        )
        assert response.status_code == status, (what, response.status_code, body)
        assert not acted, (what, body)
        if status == 200:
            assert body["duplicate"] == genuine["MessageId"], what
        assert snapshot(storage) == before, what
    # The fresh message itself, unadorned, is still taken: it was never acted on.
    assert recognize.post(fresh).get_json()["outcomes"][0]["key"] == FRAME


# --- SSRF: a household's webhook and broker aimed inside ---------------------------------------------


def post_alert(notify: Any, storage: Storage, household: str) -> requests.Response:
    """An alert of the household's own, about a real frame (MQTT crops its face from it)."""
    key = frame_key(household)
    storage.put(key, cv2.imencode(".jpg", clip_frame())[1].tobytes(), content_type="image/jpeg")
    alert = alert_for(storage, household, key)
    return requests.post(
        notify.url, json=alert, headers={"Authorization": f"Bearer {NOTIFY_TOKEN}"}, timeout=90
    )


def test_a_households_webhook_and_broker_cannot_reach_the_deployments_insides(
    start_function, storage, capture, figures
):
    """notify with private addresses allowed (as under `facewatch up`) and loopback refused
    (as everywhere but tests). Settings written straight to the bucket, as a household could
    have saved them before these checks or as DNS may change after they were saved: every
    one is refused at connect time, nothing reaches the capture server, and the alert is
    kept as a dead letter that names the URL without its secret path."""
    notify = start_notify(
        start_function,
        storage,
        FACEWATCH_OUTBOUND_ALLOW_PRIVATE="true",
        FACEWATCH_OUTBOUND_ALLOW_LOOPBACK="false",
    )
    lan = lan_address()
    outside = Capture(host=lan).start() if lan else None
    six = Capture(host="::1").start() if ipv6_loopback() else None
    try:
        targets: list[tuple[str, HouseholdSettings, list[Capture]]] = [
            (
                "webhook 127.0.0.1",
                HouseholdSettings(channels=["webhook"], webhook_url=capture.url(SECRET_PATH)),
                [capture],
            ),
            (
                "webhook localhost",
                HouseholdSettings(channels=["webhook"], webhook_url=capture.url(SECRET_PATH, "localhost")),
                [capture],
            ),
            (
                "webhook metadata",
                HouseholdSettings(
                    channels=["webhook"], webhook_url="http://169.254.169.254/latest/meta-data/"
                ),
                [],
            ),
            (
                "webhook metadata name",
                HouseholdSettings(
                    channels=["webhook"], webhook_url="http://metadata.google.internal/computeMetadata/v1/"
                ),
                [],
            ),
            (
                "mqtt 127.0.0.1",
                HouseholdSettings(channels=["mqtt"], mqtt_url=f"mqtt://u:pw@127.0.0.1:{capture.port}"),
                [capture],
            ),
            (
                "mqtt localhost",
                HouseholdSettings(channels=["mqtt"], mqtt_url=f"mqtt://localhost:{capture.port}"),
                [capture],
            ),
            (
                "mqtt metadata",
                HouseholdSettings(channels=["mqtt"], mqtt_url="mqtt://169.254.169.254:1883"),
                [],
            ),
        ]
        if six is not None:
            targets += [
                (
                    "webhook [::1]",
                    HouseholdSettings(channels=["webhook"], webhook_url=six.url(SECRET_PATH)),
                    [six],
                ),
                (
                    "mqtt [::1]",
                    HouseholdSettings(channels=["mqtt"], mqtt_url=f"mqtt://[::1]:{six.port}"),
                    [six],
                ),
            ]
        if outside is not None and lan is not None:
            outside.location = capture.url("after-redirect")
            targets.append(
                (
                    "redirect to loopback",
                    HouseholdSettings(
                        channels=["webhook"], webhook_url=outside.url(f"redirect/{SECRET_PATH}", lan)
                    ),
                    [capture],
                )
            )
        for i, (what, own, watched) in enumerate(targets):
            household = f"attacker{i}"
            save_household_settings(storage, household, own)
            response = post_alert(notify, storage, household)
            reached = any(server.requests for server in watched)
            attacked(figures, reached or response.status_code == 200)
            assert not reached, what
            assert response.status_code == 202, (what, response.status_code, response.text)
            letter = dead_letters(storage, household)
            assert "refused" in letter or "redirect, not followed" in letter, (what, letter)
            assert "SECRET-HA" not in letter and "pw@" not in letter, (what, letter)
        if outside is not None:  # the allowed-looking server was asked, and said "go elsewhere"
            assert [r.path for r in outside.requests] == [f"/redirect/{SECRET_PATH}"]
        log = notify.log_path.read_text()
        assert "SECRET-HA" not in log and ":pw@" not in log
    finally:
        for server in (outside, six):
            if server is not None:
                server.stop()


def test_a_failing_webhook_keeps_its_secret_path_out_of_the_dead_letter_and_the_log(
    start_function, storage, capture, figures
):
    """A household's own receiver answering 500 is retried and dead-lettered: the letter and
    notify's log name it by host and port only."""
    notify = start_notify(start_function, storage, FACEWATCH_OUTBOUND_ALLOW_LOOPBACK="true")
    save_household_settings(
        storage,
        "home",
        HouseholdSettings(channels=["webhook"], webhook_url=capture.url(f"fail/{SECRET_PATH}?t=SECRET-Q")),
    )
    response = post_alert(notify, storage, "home")
    assert response.status_code == 202, response.text
    assert capture.requests and all(r.path.startswith("/fail/") for r in capture.requests)
    letter, log = dead_letters(storage, "home"), notify.log_path.read_text()
    leaked = any(
        secret in text for secret in ("SECRET-HA", "SECRET-Q") for text in (letter, log, response.text)
    )
    attacked(figures, leaked)
    assert not leaked
    assert f"127.0.0.1:{capture.port}/***" in letter


def test_a_household_cannot_save_a_url_that_points_inside(storage, capture, figures):
    """`facewatch household` refuses such URLs before anything is written (loopback and
    metadata always; private ones where the deployment does not allow them)."""
    env = {"FACEWATCH_OUTBOUND_ALLOW_LOOPBACK": "false", "FACEWATCH_OUTBOUND_ALLOW_PRIVATE": "false"}
    for option, url in [
        ("--webhook-url", capture.url(SECRET_PATH)),
        ("--webhook-url", "http://[::1]:8123/x"),
        ("--webhook-url", "http://169.254.169.254/latest/meta-data/"),
        ("--webhook-url", "http://localhost:8123/x"),
        ("--webhook-url", "http://192.168.1.20:8123/x"),
        ("--mqtt-url", f"mqtt://127.0.0.1:{capture.port}"),
        ("--mqtt-url", "mqtts://u:pw@[fd00:ec2::254]:8883"),
    ]:
        result = run_cli(storage, "household", "--household", "home", option, url, env=env)
        saved = storage.exists(household_settings_key("home"))
        attacked(figures, result.returncode == 0 or saved)
        assert result.returncode != 0 and not saved, (url, result.stdout, result.stderr)
        assert "refused" in result.stderr and "SECRET-HA" not in result.stderr and "pw@" not in result.stderr
    assert capture.requests == []


@pytest.fixture
def recognize(monkeypatch: pytest.MonkeyPatch, storage: Storage) -> Iterator[SnsRecognize]:
    yield from sns_recognize(monkeypatch, storage, "sns-attack-webhook-token-0123456789abcdef")
