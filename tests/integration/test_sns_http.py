"""SNS delivering straight to recognize over HTTP, end to end in process: functions/recognize
through functions-framework's test client, the real settings (FACEWATCH_SNS_TOPIC_ARNS),
services and storage (moto). Only SNS itself is faked: `web.sns.https_get` serves a
test certificate and records the GET that confirms a subscription. The real GET is
checked against a local HTTP server at the end."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from functions_framework import create_app

from facewatch import config
from facewatch.local.processes import free_port, functions_dir
from facewatch.store.storage import Storage
from facewatch.web import services as services_module
from facewatch.web import sns as sns_module
from tests.conftest import EVENTS, s3_event
from tests.fake_sns import CERT_URL, TOPIC, FakeSns

pytestmark = pytest.mark.integration

TOKEN = "sns-http-test-webhook-token-0123456789"
FRAME = "households/home/frames/door/20261125/140312000005-1b6c52bf41e0.jpg"


@dataclass
class Recognize:
    client: Any
    sns: FakeSns
    storage: Storage

    def post(self, payload: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.client.post("/", data=body, headers=headers or {})

    def post_as_sns(self, payload: dict[str, Any]) -> Any:
        """As SNS POSTs: its headers, text/plain, and no Authorization."""
        return self.post(
            payload,
            {
                "x-amz-sns-message-type": payload["Type"],
                "x-amz-sns-message-id": payload["MessageId"],
                "x-amz-sns-topic-arn": payload["TopicArn"],
                "Content-Type": "text/plain; charset=UTF-8",
                "User-Agent": "Amazon Simple Notification Service Agent",
            },
        )


def start(monkeypatch: pytest.MonkeyPatch, storage: Storage, **env: str) -> Recognize:
    fake = FakeSns()

    def https_get(url: str) -> bytes:  # the one I/O edge of web/sns.py
        return fake.fetch_cert(url) if url == CERT_URL else fake.http_get(url)

    monkeypatch.setattr(sns_module, "https_get", https_get)
    monkeypatch.setenv("FACEWATCH_BUCKET", storage.bucket)
    monkeypatch.setenv("FACEWATCH_S3_ENDPOINT_URL", storage.client.meta.endpoint_url)
    monkeypatch.setenv("FACEWATCH_WEBHOOK_TOKEN", TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()
    services_module.services.cache_clear()
    app = create_app("recognize", str(functions_dir() / "recognize" / "main.py"), "http")
    return Recognize(app.test_client(), fake, storage)


@pytest.fixture
def recognize(monkeypatch: pytest.MonkeyPatch, storage: Storage) -> Iterator[Recognize]:
    yield start(monkeypatch, storage, FACEWATCH_SNS_TOPIC_ARNS=TOPIC)
    config.get_settings.cache_clear()
    services_module.services.cache_clear()


def now_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification_of(storage: Storage, name: str = "ObjectRemoved:Delete") -> dict[str, Any]:
    """The captured notification, sent now (SNS's Timestamp is checked) with a MessageId of
    its own (a MessageId taken before is a duplicate)."""
    payload = json.loads((EVENTS / "s3_sns_http_notification.json").read_text())
    payload["Message"] = json.dumps(s3_event(storage.bucket, FRAME, name=name))
    return {**payload, "Timestamp": now_stamp(), "MessageId": str(uuid.uuid4())}


def confirmation() -> dict[str, Any]:
    payload = json.loads((EVENTS / "sns_subscription_confirmation.json").read_text())
    return {**payload, "Timestamp": now_stamp()}


def test_the_subscription_is_confirmed_then_signed_notifications_are_handled(recognize):
    payload = recognize.sns.sign(confirmation())
    response = recognize.post_as_sns(payload)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"confirmed": TOPIC}
    assert recognize.sns.gets == [payload["SubscribeURL"]]

    response = recognize.post_as_sns(recognize.sns.sign(notification_of(recognize.storage), "2"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcomes"] == [{"key": FRAME, "action": "ignored", "detail": "frame removed"}]
    # A signed notification of an upload reaches storage: this frame is not there.
    created = recognize.sns.sign(notification_of(recognize.storage, "ObjectCreated:Put"))
    assert recognize.post_as_sns(created).status_code == 404
    assert recognize.sns.cert_fetches == [CERT_URL]  # fetched once, then cached
    assert recognize.sns.gets == [payload["SubscribeURL"]]


def test_an_unsubscribe_confirmation_is_acknowledged_and_nothing_is_fetched(recognize):
    payload = recognize.sns.sign({**confirmation(), "Type": "UnsubscribeConfirmation"})
    response = recognize.post_as_sns(payload)
    assert response.status_code == 200
    assert response.get_json() == {"unsubscribed": TOPIC}
    assert recognize.sns.gets == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Message": json.dumps(s3_event("facewatch", "households/home/known/x/y.jpg"))}, "does not match"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/x.pem"}, "not an SNS host"),
        ({"SigningCertURL": CERT_URL.replace("https:", "http:")}, "is not https"),
        ({"SignatureVersion": "3"}, "SignatureVersion '3' is not supported"),
        ({"TopicArn": "arn:aws:sns:us-east-1:999999999999:facewatch-frames"}, "does not list"),
    ],
    ids=["tampered", "cert-host", "cert-http", "signature-version", "topic"],
)
def test_a_notification_not_signed_by_sns_for_us_is_a_4xx_that_says_why(recognize, change, message):
    payload = {**recognize.sns.sign(notification_of(recognize.storage)), **change}
    response = recognize.post_as_sns(payload)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Unauthorized"
    assert message in response.get_json()["message"]


def test_the_unsigned_example_notification_and_a_forged_confirmation_are_refused(recognize):
    example = json.loads((EVENTS / "s3_sns_http_notification.json").read_text())  # "EXAMPLE..." signature
    assert recognize.post_as_sns(example).status_code == 401
    forged = {**recognize.sns.sign(confirmation()), "SubscribeURL": "https://evil.example/?Action=Confirm"}
    response = recognize.post_as_sns(forged)
    assert response.status_code == 401
    assert "not visited" in response.get_json()["message"]
    tampered = {**recognize.sns.sign(confirmation()), "Token": "0" * 64}
    assert recognize.post_as_sns(tampered).status_code == 401
    assert recognize.sns.gets == []


def test_other_webhooks_still_need_the_bearer_token(recognize):
    event = s3_event(recognize.storage.bucket, FRAME, name="ObjectRemoved:Delete")
    assert recognize.post(event).status_code == 401
    assert recognize.post(event, {"Authorization": "Bearer wrong"}).status_code == 401
    assert recognize.post(event, {"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # An SNS-shaped body does not get around the token by leaving out its headers.
    unsigned = {**notification_of(recognize.storage), "Signature": "AAAA"}
    assert recognize.post(unsigned).status_code == 401
    assert recognize.post(unsigned, {"Authorization": f"Bearer {TOKEN}"}).status_code == 401


def test_without_subscribed_topics_a_confirmation_says_what_to_set(monkeypatch, storage):
    recognize = start(monkeypatch, storage)
    try:
        response = recognize.post_as_sns(recognize.sns.sign(confirmation()))
        assert response.status_code == 401
        assert "FACEWATCH_SNS_TOPIC_ARNS does not list" in response.get_json()["message"]
        assert recognize.sns.gets == [] and recognize.sns.cert_fetches == []
        # Notifications then go by the bearer token, as before.
        signed = recognize.sns.sign(notification_of(storage))
        assert recognize.post_as_sns(signed).status_code == 401
        response = recognize.post(signed, {"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
    finally:
        config.get_settings.cache_clear()
        services_module.services.cache_clear()


# --- the real GET, against a local HTTP server ---------------------------------------------------


@pytest.fixture
def web_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes = {
                "/cert.pem": (200, {}, b"-----BEGIN CERTIFICATE-----\n"),
                "/moved": (302, {"Location": "/cert.pem"}, b""),
                "/big": (200, {}, b"x" * (sns_module.MAX_CERT_BYTES + 1)),
                "/down": (503, {}, b"busy"),
            }
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_real_get_follows_no_redirect_and_reads_a_bounded_answer(web_server):
    assert sns_module.https_get(f"{web_server}/cert.pem") == b"-----BEGIN CERTIFICATE-----\n"
    for path, error in [("/moved", "HTTP 302"), ("/big", "over 65536 bytes"), ("/down", "HTTP 503")]:
        with pytest.raises(sns_module.SnsUnavailable, match=error):
            sns_module.https_get(f"{web_server}{path}")
    with pytest.raises(sns_module.SnsUnavailable, match="ConnectionError"):
        sns_module.https_get(f"http://127.0.0.1:{free_port()}/cert.pem")
