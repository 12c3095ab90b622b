"""SNS standing in for itself in the tests of SNS messages over HTTP(S): a test RSA key and a
self-signed certificate in place of SNS's, served at CERT_URL by a fake certificate fetcher;
the fetcher and the GET of a SubscribeURL record the URLs they were asked for."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from facewatch.web.sns import SnsMessage, SnsVerifier, string_to_sign

TOPIC = "arn:aws:sns:us-east-1:123456789012:facewatch-frames"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"


@dataclass
class FakeSns:
    """A signing key and its self-signed certificate, served at CERT_URL by `fetch_cert`;
    `http_get` stands for the GET of a SubscribeURL. Both record the URLs asked for."""

    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    valid_from: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=1))
    valid_for: timedelta = timedelta(days=365)
    cert_fetches: list[str] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)

    def certificate_pem(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.valid_from)
            .not_valid_after(self.valid_from + self.valid_for)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def fetch_cert(self, url: str) -> bytes:
        self.cert_fetches.append(url)
        return self.certificate_pem()

    def http_get(self, url: str) -> bytes:
        self.gets.append(url)
        return b"<ConfirmSubscriptionResponse/>"

    def verifier(self, topics: tuple[str, ...] = (TOPIC,)) -> SnsVerifier:
        return SnsVerifier(topics, fetch_cert=self.fetch_cert, http_get=self.http_get)

    def sign(self, payload: dict[str, Any], version: str = "1") -> dict[str, Any]:
        """The payload as SNS would send it: SignatureVersion, SigningCertURL and the
        Signature over its string to sign."""
        signed = {**payload, "SignatureVersion": version, "SigningCertURL": CERT_URL}
        data = string_to_sign(SnsMessage(signed["Type"], signed))
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed["Signature"] = base64.b64encode(self.key.sign(data, padding.PKCS1v15(), digest)).decode()
        return signed
