"""Delivery channels against real servers: aiosmtpd with STARTTLS or implicit TLS and
AUTH, and SES through moto's SES (the one part that cannot run here for real)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import ssl
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from facewatch.alerts.mail_transport import SesTransport, SmtpTransport
from facewatch.exceptions import AlertError
from facewatch.local.processes import free_port

pytestmark = pytest.mark.integration
USER, PASSWORD = "alice", "s3cret-smtp-password"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return server, client


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(params=["starttls", "ssl"])
def smtp_server(request, tls):
    server_ctx, client_ctx = tls
    inbox, port = Inbox(), free_port()
    kwargs = dict(hostname="localhost", port=port, authenticator=authenticator)
    if request.param == "starttls":
        controller = Controller(
            inbox, tls_context=server_ctx, require_starttls=True, auth_require_tls=True, **kwargs
        )
    else:  # implicit TLS: the whole session is encrypted, aiosmtpd need not wait for STARTTLS
        controller = Controller(
            inbox, ssl_context=server_ctx, server_hostname="localhost", auth_require_tls=False, **kwargs
        )
    controller.start()
    yield request.param, port, inbox, client_ctx
    controller.stop()


def message() -> EmailMessage:
    m = EmailMessage()
    m["Subject"], m["From"], m["To"], m["Message-ID"] = (
        "Stranger at door",
        "fw@example.test",
        "a@example.test",
        "<1@x>",
    )
    m.set_content("hello")
    m.add_attachment(b"\xff\xd8jpeg\xff\xd9", maintype="image", subtype="jpeg", filename="s.jpg")
    return m


def test_smtp_with_tls_and_auth_delivers(smtp_server):
    security, port, inbox, ctx = smtp_server
    channel = SmtpTransport(
        "localhost", port, security=security, username=USER, password=PASSWORD, ssl_context=ctx
    )
    assert channel.send(message()) == "<1@x>"
    [received] = inbox.messages
    assert received["Subject"] == "Stranger at door"
    [photo] = [p for p in received.walk() if p.get_filename() == "s.jpg"]
    assert photo.get_content() == b"\xff\xd8jpeg\xff\xd9"


def test_wrong_password_is_a_clear_final_error_without_the_password(smtp_server, caplog):
    security, port, _, ctx = smtp_server
    caplog.set_level(logging.DEBUG)
    channel = SmtpTransport(
        "localhost", port, security=security, username=USER, password="wrong-pass-123", ssl_context=ctx
    )
    with pytest.raises(AlertError, match="authentication failed for user 'alice'") as info:
        channel.send(message())
    assert info.value.retryable is False
    for text in (str(info.value), repr(channel), caplog.text):
        assert "wrong-pass-123" not in text and PASSWORD not in text


def test_an_untrusted_certificate_is_refused(smtp_server):
    security, port, _, _ = smtp_server
    channel = SmtpTransport("localhost", port, security=security, username=USER, password=PASSWORD)
    with pytest.raises(AlertError):
        channel.send(message())


def test_a_dead_smtp_server_is_a_retryable_error():
    with pytest.raises(AlertError, match="refused the connection") as info:
        SmtpTransport("127.0.0.1", free_port()).send(message())
    assert info.value.retryable is True


def test_ses_send_raw_email_with_a_verified_identity():
    import boto3
    from moto import mock_aws
    from moto.ses.models import ses_backends

    with mock_aws():
        ses = boto3.client("ses", region_name="eu-west-1")
        ses.verify_email_identity(EmailAddress="fw@example.test")
        delivery_id = SesTransport(ses).send(message())
        [sent] = ses_backends["123456789012"]["eu-west-1"].sent_messages
        assert delivery_id == sent.id
        assert (
            b"Stranger at door" in sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data
        )


def test_ses_refuses_an_unverified_sender_with_a_final_error():
    import boto3
    from moto import mock_aws

    with mock_aws():
        ses = boto3.client("ses", region_name="eu-west-1")
        with pytest.raises(AlertError, match="SES rejected the message") as info:
            SesTransport(ses).send(message())
        assert info.value.retryable is False
