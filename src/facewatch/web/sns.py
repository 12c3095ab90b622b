"""Amazon SNS delivering straight to recognize over HTTP(S): the subscription is confirmed,
and messages are authenticated by their signature, since SNS cannot send a bearer token.

SNS signs every message it POSTs (Notification, SubscriptionConfirmation,
UnsubscribeConfirmation) with the key of a certificate it names in `SigningCertURL`. As the
AWS docs ("Verifying the signatures of Amazon SNS messages") describe, a message is taken
as SNS's only when:
- `SignatureVersion` is 1 (SHA1withRSA) or 2 (SHA256withRSA);
- `SigningCertURL` is https, on an SNS host (`sns.<region>.amazonaws.com`, `SNS_HOST`),
  the path `/SimpleNotificationService-<hex>.pem`, with no user, port or query; the
  certificate is fetched over https (no redirects), cached, and must be in its validity
  period;
- its RSA key verifies the base64 `Signature` over the string to sign: `name\\nvalue\\n` for
  each documented field of the message's type, in the documented (byte-sorted) order;
- its `TopicArn` is one this deployment subscribed (FACEWATCH_SNS_TOPIC_ARNS).
A `SubscriptionConfirmation` is confirmed only after all of that, by a GET of its
`SubscribeURL`, and only when that is https on an SNS host (`sns.<region>.amazonaws.com`).

Pure core, I/O at the edge: `SnsVerifier` is handed the two HTTP calls it needs
(`fetch_cert`, `http_get`); `https_get` is the real one, built into the verifier by
`web/services.py`. `cryptography` is imported only when a signature is checked.

Refusals are `SnsRefused` (4xx: SNS does not retry them); a certificate or confirmation
that cannot be fetched is `SnsUnavailable` (5xx: SNS retries)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from facewatch.exceptions import BadEvent, FacewatchError

__all__ = [
    "SnsMessage",
    "SnsRefused",
    "SnsUnavailable",
    "SnsVerifier",
    "https_get",
    "sns_message",
    "string_to_sign",
]

SnsType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
SNS_TYPES: tuple[SnsType, ...] = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
SNS_HOST = re.compile(r"sns\.[a-z]{2}(-[a-z]+)+-[0-9]+\.amazonaws\.com(\.cn)?")
"""The hosts SNS serves signing certificates and subscription links from:
`sns.<region>.amazonaws.com` (`.com.cn` in China), the region as AWS names them
(`us-east-1`, `us-gov-west-1`, `cn-north-1`). The AWS SDKs' looser `[a-zA-Z0-9-]{3,}`
also admits S3's dash-region endpoints, where anyone may own the bucket `sns`
(`sns.s3-us-west-2.amazonaws.com`)."""
SNS_CERT_PATH = re.compile(r"/SimpleNotificationService-[0-9a-f]+\.pem")
"""The path of every signing certificate SNS names (`SimpleNotificationService-<hex>.pem`)."""

# The string to sign, per message type: these fields, in this order (AWS SNS docs).
_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_FIELDS["UnsubscribeConfirmation"] = _SIGNED_FIELDS["SubscriptionConfirmation"]
_OPTIONAL_FIELDS = frozenset({"Subject"})
_HASHES = {"1": "SHA1", "2": "SHA256"}
MAX_CERT_BYTES = 64 * 1024
CACHED_CERTS = 16
HTTP_TIMEOUT_SECONDS = 5.0
"""SNS waits 15 s for an answer: a certificate fetch and a confirmation must fit well within."""


class SnsRefused(BadEvent):
    """Not an SNS message this deployment accepts: bad or missing signature, an untrusted
    certificate or subscription URL, or a topic it did not subscribe."""


class SnsUnavailable(FacewatchError):
    """The signing certificate or the subscription URL could not be fetched (for now)."""


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """One message SNS POSTed to an HTTP(S) subscription: its type and its JSON fields."""

    type: SnsType
    fields: Mapping[str, Any]

    @property
    def topic_arn(self) -> str:
        return _field(self.fields, "TopicArn")

    @property
    def message_id(self) -> str:
        return _field(self.fields, "MessageId")


def _field(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise SnsRefused(f"SNS message: {name} missing or not a string")
    return value


SNS_TYPE_HEADER = "x-amz-sns-message-type"
"""The header SNS sends with every message it POSTs (lower case, as headers are compared)."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def sns_message(body: bytes, headers: Mapping[str, str]) -> SnsMessage | None:
    """The SNS message in an HTTP request, or None when the request is not one: SNS sends
    `x-amz-sns-message-type`, and its JSON has `Type` and `SigningCertURL`."""
    declared = _header(headers, SNS_TYPE_HEADER)
    if declared is None and b"SigningCertURL" not in body:
        return None
    if (_header(headers, "x-amz-sns-rawdelivery") or "").lower() == "true":
        raise SnsRefused(
            "SNS raw message delivery is on for this subscription: turn it off, since a raw "
            "message carries no signature to authenticate it by"
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        if declared is None:
            return None
        raise SnsRefused(f"SNS {declared} body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        if declared is None:
            return None
        raise SnsRefused(f"SNS {declared} body is not a JSON object")
    kind = data.get("Type")
    if declared is None and (kind not in SNS_TYPES or "SigningCertURL" not in data):
        return None
    if kind not in SNS_TYPES:
        raise SnsRefused(f"SNS message Type {kind!r} is not one of {', '.join(SNS_TYPES)}")
    if declared is not None and declared != kind:
        raise SnsRefused(f"SNS message type header says {declared!r}, its body says {kind!r}")
    return SnsMessage(cast(SnsType, kind), data)


def string_to_sign(message: SnsMessage) -> bytes:
    """What SNS signed: `name\\nvalue\\n` for each of the type's fields, in the documented
    order; `Subject` only when the message has one."""
    parts: list[str] = []
    for name in _SIGNED_FIELDS[message.type]:
        value = message.fields.get(name)
        if value is None and name in _OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SnsRefused(f"SNS {message.type}: {name} missing or not a string")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Url:
    scheme: str
    host: str
    port: int | None
    has_user: bool
    path: str
    query: str
    fragment: str


def _url(url: str, what: str) -> _Url:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        raise SnsRefused(f"SNS {what} {url!r} is not a URL: {exc}") from exc
    return _Url(
        parts.scheme,
        parts.hostname or "",
        port,
        parts.username is not None or parts.password is not None,
        parts.path,
        parts.query,
        parts.fragment,
    )


def _cert_url(url: str) -> str:
    parts = _url(url, "SigningCertURL")
    if parts.scheme != "https":
        raise SnsRefused(f"SNS SigningCertURL {url!r} is not https")
    if not SNS_HOST.fullmatch(parts.host) or parts.has_user:
        raise SnsRefused(
            f"SNS SigningCertURL host {parts.host!r} is not an SNS host (sns.<region>.amazonaws.com)"
        )
    plain = parts.port in (None, 443) and not parts.query and not parts.fragment
    if not plain or not SNS_CERT_PATH.fullmatch(parts.path):
        raise SnsRefused(f"SNS SigningCertURL {url!r} is not a certificate file on an SNS host")
    return url


def _subscribe_url(url: str) -> str:
    parts = _url(url, "SubscribeURL")
    if parts.scheme != "https":
        raise SnsRefused(f"SNS SubscribeURL {url!r} is not https: not visited")
    on_sns = parts.host.endswith(".amazonaws.com") and SNS_HOST.fullmatch(parts.host)
    if not on_sns or parts.has_user or parts.port not in (None, 443):
        raise SnsRefused(
            f"SNS SubscribeURL host {parts.host!r} is not an SNS host on amazonaws.com: not visited"
        )
    return url


class SnsVerifier:
    """Checks SNS messages for one deployment (its subscribed topics) and confirms its
    subscriptions. Certificates are cached by URL: SNS signs with a few, for months."""

    def __init__(
        self,
        topic_arns: Collection[str],
        *,
        fetch_cert: Callable[[str], bytes],
        http_get: Callable[[str], bytes],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.topic_arns = frozenset(topic_arns)
        self.fetch_cert = fetch_cert
        self.http_get = http_get
        self.now = now
        self._keys: dict[str, tuple[Any, datetime]] = {}  # URL: (public key, valid until)
        self._lock = threading.Lock()

    def verify(self, message: SnsMessage) -> None:
        """Refuse the message unless SNS signed it for one of our topics."""
        topic = message.topic_arn
        if topic not in self.topic_arns:
            # The topics this deployment takes are not told to whoever asks.
            empty = "" if self.topic_arns else " (it is empty)"
            raise SnsRefused(
                f"SNS {message.type} from topic {topic!r}, "
                f"which FACEWATCH_SNS_TOPIC_ARNS does not list{empty}"
            )
        version = message.fields.get("SignatureVersion")
        algorithm = _HASHES.get(version) if isinstance(version, str) else None
        if algorithm is None:
            raise SnsRefused(f"SNS SignatureVersion {version!r} is not supported (1 or 2)")
        try:
            signature = base64.b64decode(_field(message.fields, "Signature"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SnsRefused("SNS Signature is not base64") from exc
        url = _cert_url(_field(message.fields, "SigningCertURL"))
        data = string_to_sign(message)
        key = self._public_key(url)

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        digest = hashes.SHA1() if algorithm == "SHA1" else hashes.SHA256()
        try:
            key.verify(signature, data, padding.PKCS1v15(), digest)
        except InvalidSignature as exc:
            raise SnsRefused(
                f"SNS {message.type} {message.message_id}: the signature does not match the message"
            ) from exc

    def confirm(self, message: SnsMessage) -> str:
        """Verify a SubscriptionConfirmation, then visit its SubscribeURL; the topic ARN."""
        if message.type != "SubscriptionConfirmation":
            raise SnsRefused(f"SNS {message.type} is not a subscription confirmation")
        url = _subscribe_url(_field(message.fields, "SubscribeURL"))
        self.verify(message)
        self.http_get(url)
        return message.topic_arn

    def _public_key(self, url: str) -> Any:
        with self._lock:
            cached = self._keys.get(url)
        if cached is not None and cached[1] >= self.now():
            return cached[0]
        pem = self.fetch_cert(url)

        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise SnsRefused(f"SNS SigningCertURL {url!r} did not serve a PEM certificate") from exc
        now = self.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SnsRefused(f"SNS signing certificate {url!r} is not valid now (expired or not yet valid)")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsRefused(f"SNS signing certificate {url!r} does not hold an RSA key")
        with self._lock:
            if len(self._keys) >= CACHED_CERTS:
                self._keys.pop(next(iter(self._keys)))
            self._keys[url] = (key, cert.not_valid_after_utc)
        return key


def https_get(url: str) -> bytes:
    """GET a URL the verifier checked (https, an SNS host), following no redirect (it could
    lead off that host); the body, at most MAX_CERT_BYTES of it. Any failure is
    SnsUnavailable: SNS will send the message again."""
    import requests

    try:
        with requests.get(url, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False, stream=True) as response:
            if response.status_code != 200:
                raise SnsUnavailable(f"GET {urlsplit(url).hostname}: HTTP {response.status_code}")
            body = response.raw.read(MAX_CERT_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise SnsUnavailable(f"GET {urlsplit(url).hostname}: {type(exc).__name__}: {exc}") from exc
    if len(body) > MAX_CERT_BYTES:
        raise SnsUnavailable(f"GET {urlsplit(url).hostname}: answer over {MAX_CERT_BYTES} bytes")
    return bytes(body)
