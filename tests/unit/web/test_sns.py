"""SNS messages over HTTP(S): the string to sign, the signature check and the subscription
confirmation, with a test RSA key and a self-signed certificate standing in for SNS's.
The payloads are tests/events' SNS messages, re-signed with that key; the certificate
fetcher and the HTTP GET are fakes that record what they were asked for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from facewatch.recognize.triggers import parse_event
from facewatch.web.sns import (
    SnsMessage,
    SnsRefused,
    SnsUnavailable,
    SnsVerifier,
    sns_message,
    string_to_sign,
)
from tests.conftest import EVENTS
from tests.fake_sns import CERT_URL, TOPIC, FakeSns

SNS_ORIGIN = "https://sns.us-east-1.amazonaws.com"


def notification() -> dict[str, Any]:
    return json.loads((EVENTS / "s3_sns_http_notification.json").read_text())


def confirmation() -> dict[str, Any]:
    return json.loads((EVENTS / "sns_subscription_confirmation.json").read_text())


def message(payload: dict[str, Any]) -> SnsMessage:
    found = sns_message(json.dumps(payload).encode(), {"x-amz-sns-message-type": payload["Type"]})
    assert found is not None
    return found


@pytest.fixture(scope="module")
def sns_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)  # one 2048-bit key for the module: they are slow


@pytest.fixture
def sns(sns_key) -> FakeSns:
    return FakeSns(key=sns_key)


# --- the string to sign -----------------------------------------------------------------------


def test_the_string_to_sign_is_the_documented_one():
    """The AWS docs' own examples ("Verifying the signatures of Amazon SNS messages")."""
    docs_notification = {
        "Type": "Notification",
        "Message": "My Test Message",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "Subject": "My subject",
        "Timestamp": "2012-06-05T04:37:04.321Z",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    }
    assert string_to_sign(SnsMessage("Notification", docs_notification)) == (
        b"Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
        b"Subject\nMy subject\nTimestamp\n2012-06-05T04:37:04.321Z\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\nType\nNotification\n"
    )
    del docs_notification["Subject"]  # signed only when the message has one
    assert b"Subject" not in string_to_sign(SnsMessage("Notification", docs_notification))
    payload = confirmation()
    names = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    expected = "".join(f"{name}\n{payload[name]}\n" for name in names).encode()
    assert string_to_sign(SnsMessage("SubscriptionConfirmation", payload)) == expected
    assert b".\nTo confirm the subscription" in expected  # the JSON's \n, unescaped


# --- telling SNS's requests from others ---------------------------------------------------------


def test_only_sns_messages_are_taken_for_sns():
    assert sns_message((EVENTS / "s3_put.json").read_bytes(), {}) is None
    assert sns_message((EVENTS / "minio_put.json").read_bytes(), {"Authorization": "Bearer x"}) is None
    assert sns_message(b"not json", {}) is None
    found = sns_message((EVENTS / "s3_sns_http_notification.json").read_bytes(), {})
    assert found is not None and found.type == "Notification" and found.topic_arn == TOPIC
    found = sns_message((EVENTS / "sns_subscription_confirmation.json").read_bytes(), {})
    assert found is not None and found.type == "SubscriptionConfirmation"


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b"{nope", {"x-amz-sns-message-type": "Notification"}, "not JSON"),
        (b"[]", {"X-Amz-Sns-Message-Type": "Notification"}, "not a JSON object"),
        (b'{"Type": "Hello"}', {"x-amz-sns-message-type": "Hello"}, "Type 'Hello' is not one of"),
        (
            (EVENTS / "s3_sns_http_notification.json").read_bytes(),
            {"x-amz-sns-message-type": "SubscriptionConfirmation"},
            "header says 'SubscriptionConfirmation', its body says 'Notification'",
        ),
        (
            (EVENTS / "s3_put.json").read_bytes(),
            {"x-amz-sns-message-type": "Notification", "x-amz-sns-rawdelivery": "true"},
            "raw message delivery is on",
        ),
    ],
    ids=["not-json", "not-object", "unknown-type", "type-mismatch", "raw-delivery"],
)
def test_a_request_that_says_it_is_sns_but_is_not_a_signed_message_is_refused(body, headers, error):
    with pytest.raises(SnsRefused, match=error):
        sns_message(body, headers)


def test_the_parser_finds_the_notifications_storage_event_and_nothing_in_a_confirmation():
    [event] = parse_event(notification())
    assert event.key.startswith("households/home/frames/")
    assert parse_event(confirmation()) == []
    unsubscribed = {**confirmation(), "Type": "UnsubscribeConfirmation"}
    assert parse_event(unsubscribed) == []


# --- the signature ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"], ids=["SHA1withRSA", "SHA256withRSA"])
def test_a_good_signature_is_accepted_and_the_certificate_is_fetched_once(sns, version):
    verifier = sns.verifier()
    verifier.verify(message(sns.sign(notification(), version)))
    verifier.verify(message(sns.sign({**notification(), "MessageId": "another"}, version)))
    assert sns.cert_fetches == [CERT_URL]  # cached
    assert sns.gets == []


OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:facewatch-other"


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("Message", notification()["Message"].replace("ObjectCreated:Put", "ObjectRemoved:Delete")),
        ("TopicArn", OTHER_TOPIC),  # a topic this deployment also takes: still the wrong one
        ("Timestamp", "2026-11-25T03:17:26.012Z"),
        ("Subject", "Something else"),
        ("MessageId", "00000000-0000-0000-0000-000000000000"),
    ],
    ids=["message", "topic", "timestamp", "subject", "message-id"],
)
def test_a_tampered_message_is_refused(sns, field_name, value):
    signed = sns.sign(notification())
    verifier = sns.verifier(topics=(TOPIC, OTHER_TOPIC))
    verifier.verify(message(signed))
    with pytest.raises(SnsRefused, match="the signature does not match the message"):
        verifier.verify(message({**signed, field_name: value}))


def test_a_signature_by_another_key_or_of_the_other_version_is_refused(sns):
    other = FakeSns(key=rsa.generate_private_key(65537, 2048))
    forged = other.sign(notification())  # same certificate URL, another key
    with pytest.raises(SnsRefused, match="does not match"):
        sns.verifier().verify(message(forged))
    v1 = sns.sign(notification(), "1")
    with pytest.raises(SnsRefused, match="does not match"):
        sns.verifier().verify(message({**v1, "SignatureVersion": "2"}))


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
        "https://evil.example/SimpleNotificationService-1.pem",
        "https://s3.amazonaws.com/my-bucket/SimpleNotificationService-1.pem",
        "https://sns.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-1.pem",
        "https://evil.example#@sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        # S3's dash-region endpoints, where anyone may create the bucket `sns`:
        "https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.s3-website-us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.s3-external-1.amazonaws.com/SimpleNotificationService-1.pem",
    ],
    ids=[
        "suffix",
        "other-host",
        "s3-host",
        "no-region",
        "userinfo",
        "fragment",
        "s3-dash-region",
        "s3-website",
        "s3-external",
    ],
)
def test_a_certificate_on_any_host_but_sns_is_never_fetched(sns, url):
    signed = {**sns.sign(notification()), "SigningCertURL": url}
    with pytest.raises(SnsRefused, match="SigningCertURL"):
        sns.verifier().verify(message(signed))
    assert sns.cert_fetches == []


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (CERT_URL.replace("https://", "http://"), "is not https"),
        ("https://sns.us-east-1.amazonaws.com:8443/SimpleNotification.pem", "not a certificate file"),
        ("https://sns.us-east-1.amazonaws.com/?Action=Get&cert=x.pem", "not a certificate file"),
        ("https://sns.us-east-1.amazonaws.com:https/SimpleNotification.pem", "is not a URL"),
        ("https://[sns.us-east-1.amazonaws.com/SimpleNotification.pem", "is not a URL"),
        ("https://sns.us-east-1.amazonaws.com/x.pem", "not a certificate file"),
        (f"{SNS_ORIGIN}/bucket/SimpleNotificationService-1.pem", "not a certificate file"),
        (f"{SNS_ORIGIN}/SimpleNotificationService-1.pem/x.pem", "not a certificate file"),
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-xyz.pem", "not a certificate file"),
    ],
    ids=["http", "port", "query", "bad-port", "bad-ipv6", "other-file", "in-a-folder", "nested", "not-hex"],
)
def test_a_certificate_url_that_is_not_https_or_not_a_pem_file_is_refused(sns, url, error):
    signed = {**sns.sign(notification()), "SigningCertURL": url}
    with pytest.raises(SnsRefused, match=error):
        sns.verifier().verify(message(signed))
    assert sns.cert_fetches == []


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-3250158c6da6e2b2a5c0d6bd3d5fb5b2.pem",
    ],
    ids=["us-west-2", "eu-central-1", "gov", "china"],
)
def test_sns_certificates_of_every_partition_are_fetched(sns, url):
    signed = {**sns.sign(notification()), "SigningCertURL": url}  # the URL is not signed
    sns.verifier().verify(message(signed))
    assert sns.cert_fetches == [url]


@pytest.mark.parametrize("version", ["3", "0", None, 1], ids=["3", "0", "missing", "number"])
def test_an_unsupported_signature_version_is_refused(sns, version):
    signed = sns.sign(notification())
    signed["SignatureVersion"] = version
    with pytest.raises(SnsRefused, match=r"SignatureVersion .* is not supported"):
        sns.verifier().verify(message(signed))
    assert sns.cert_fetches == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"Signature": "not base64!"}, "not base64"),
        ({"Signature": None}, "Signature missing"),
        ({"SigningCertURL": None}, "SigningCertURL missing"),
        ({"MessageId": None}, "MessageId missing"),
        ({"Message": 5}, "Message missing or not a string"),
    ],
    ids=["signature-garbage", "no-signature", "no-cert-url", "no-message-id", "message-number"],
)
def test_a_message_missing_what_is_signed_is_refused(sns, change, error):
    signed = {**sns.sign(notification()), **change}
    signed = {k: v for k, v in signed.items() if v is not None}
    with pytest.raises(SnsRefused, match=error):
        sns.verifier().verify(message(signed))


def test_a_topic_this_deployment_did_not_subscribe_is_refused_before_any_fetch(sns):
    signed = sns.sign({**notification(), "TopicArn": "arn:aws:sns:us-east-1:999999999999:someone-else"})
    with pytest.raises(SnsRefused, match="FACEWATCH_SNS_TOPIC_ARNS does not list"):
        sns.verifier().verify(message(signed))
    with pytest.raises(SnsRefused, match=r"does not list \(it is empty\)"):
        sns.verifier(topics=()).verify(message(sns.sign(notification())))
    assert sns.cert_fetches == []


def test_an_expired_or_not_yet_valid_certificate_is_refused(sns_key):
    month_ago = datetime.now(UTC) - timedelta(days=30)
    expired = FakeSns(key=sns_key, valid_from=month_ago, valid_for=timedelta(days=1))
    with pytest.raises(SnsRefused, match="not valid now"):
        expired.verifier().verify(message(expired.sign(notification())))
    early = FakeSns(key=sns_key, valid_from=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(SnsRefused, match="not valid now"):
        early.verifier().verify(message(early.sign(notification())))


def test_a_certificate_url_serving_no_certificate_is_refused_and_a_failed_fetch_is_retryable(sns):
    signed = message(sns.sign(notification()))
    junk = SnsVerifier([TOPIC], fetch_cert=lambda url: b"<html>hello</html>", http_get=sns.http_get)
    with pytest.raises(SnsRefused, match="did not serve a PEM certificate"):
        junk.verify(signed)

    def down(url: str) -> bytes:
        raise SnsUnavailable("GET sns.us-east-1.amazonaws.com: ConnectTimeout")

    with pytest.raises(SnsUnavailable):
        SnsVerifier([TOPIC], fetch_cert=down, http_get=sns.http_get).verify(signed)


# --- confirming the subscription -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_subscription_confirmation_is_confirmed_by_a_get_of_its_subscribe_url(sns, version):
    payload = sns.sign(confirmation(), version)
    assert sns.verifier().confirm(message(payload)) == TOPIC
    assert sns.gets == [payload["SubscribeURL"]]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/?Action=ConfirmSubscription&Token=x",
        "https://sns.us-east-1.amazonaws.com.evil.example/?Action=ConfirmSubscription",
        "https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription",
        "https://attacker@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "https://127.0.0.1/?Action=ConfirmSubscription",
    ],
    ids=["other-host", "suffix", "not-amazonaws.com", "userinfo", "http", "ip"],
)
def test_a_subscribe_url_off_the_sns_hosts_is_never_fetched_even_when_signed(sns, url):
    payload = sns.sign({**confirmation(), "SubscribeURL": url})  # signed: only the URL is wrong
    with pytest.raises(SnsRefused, match=r"SubscribeURL .* not visited"):
        sns.verifier().confirm(message(payload))
    assert sns.gets == []


def test_a_confirmation_with_a_bad_signature_or_topic_is_never_fetched(sns):
    tampered = {**sns.sign(confirmation()), "Token": "0" * 64}
    with pytest.raises(SnsRefused, match="does not match"):
        sns.verifier().confirm(message(tampered))
    with pytest.raises(SnsRefused, match="does not list"):
        sns.verifier(topics=("arn:aws:sns:us-east-1:123456789012:other",)).confirm(
            message(sns.sign(confirmation()))
        )
    with pytest.raises(SnsRefused, match="not a subscription confirmation"):
        sns.verifier().confirm(message(sns.sign(notification())))
    assert sns.gets == []
