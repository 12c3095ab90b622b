"""How alert emails leave: SMTP (plain, STARTTLS or SSL, with auth) and Amazon
SES (`send_raw_email`). Every failure is an AlertError that says what failed and where,
never a secret, and whether trying again later may help (`retryable`)."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any, Literal, Protocol

from facewatch.config import Settings
from facewatch.exceptions import DeliveryError

log = logging.getLogger(__name__)


SES_TIMEOUT_SECONDS = 10.0
"""The longest one SES call may take: 5 s to connect, 5 s for the answer, no hidden retries
(delivery.py retries within its own time budget)."""


class MailTransport(Protocol):
    """Sends an email (the email channel's, and operator alerts'); one per deployment
    (FACEWATCH_ALERT_CHANNEL: smtp or ses)."""

    name: str
    timeout: float
    """The longest one send may take, for delivery's time budget."""

    def send(self, message: EmailMessage) -> str: ...


def _recipients(message: EmailMessage) -> list[str]:
    return [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])) if addr]


class _Deadline:
    """smtplib's timeout bounds each socket operation, so a server answering every command
    just in time could hold one send for minutes; this bounds the whole session instead."""

    _deadline: float
    sock: Any

    def _remaining(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("SMTP session ran out of time")
        if self.sock is not None:
            self.sock.settimeout(left)

    def send(self, s: Any) -> None:
        self._remaining()
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        self._remaining()
        try:
            return super().getreply()  # type: ignore[misc]
        except smtplib.SMTPServerDisconnected:
            # smtplib reports a read that timed out as a disconnect; say what happened.
            if time.monotonic() >= self._deadline:
                raise TimeoutError("SMTP session ran out of time") from None
            raise


class _SMTP(_Deadline, smtplib.SMTP):
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        super().__init__(host, port, timeout=timeout)


class _SMTPSSL(_Deadline, smtplib.SMTP_SSL):
    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        self._deadline = time.monotonic() + timeout
        super().__init__(host, port, timeout=timeout, context=context)


def _hang_up(client: smtplib.SMTP) -> None:
    """QUIT, without letting its failure count: once the server took the message, an error
    here would have it sent again."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _refusal(where: str, refused: dict[str, tuple[int, bytes]]) -> str:
    return f"SMTP server {where} refused " + ", ".join(
        f"{addr} ({code} {reply.decode(errors='replace')})" for addr, (code, reply) in refused.items()
    )


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Literal["none", "starttls", "ssl"] = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self._password, self.timeout = username, password, timeout
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpTransport({self.host}:{self.port}, security={self.security}, user={self.username!r})"

    def send(self, message: EmailMessage) -> str:
        where = f"{self.host}:{self.port}"
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.security == "ssl":
                client: smtplib.SMTP = _SMTPSSL(self.host, self.port, self.timeout, context)
            else:
                client = _SMTP(self.host, self.port, self.timeout)
            try:
                if self.security == "starttls":
                    client.starttls(context=context)
                if self.username:
                    client.login(self.username, self._password or "")
                refused = client.send_message(message, to_addrs=_recipients(message))
            finally:
                _hang_up(client)
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError(
                f"SMTP authentication failed for user {self.username!r} at {where}", retryable=False
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused, so nobody got it: worth trying again only if every
            # refusal was temporary (4xx, e.g. greylisting or a full mailbox).
            temporary = all(400 <= code < 500 for code, _ in exc.recipients.values())
            raise DeliveryError(_refusal(where, exc.recipients), retryable=temporary) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP server {where} answered {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500
            ) from None
        except ConnectionRefusedError:
            raise DeliveryError(f"SMTP server {where} refused the connection", retryable=True) from None
        except TimeoutError:
            raise DeliveryError(f"SMTP server {where} timed out", retryable=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"SMTP delivery via {where} failed: {type(exc).__name__}", retryable=True
            ) from None
        if refused:
            # The others have it: sending again would give them a second copy.
            log.warning("%s; the other recipients have it", _refusal(where, refused))
        message_id = str(message["Message-ID"])
        log.info("smtp: sent to %d recipient(s): %s", len(_recipients(message)), message_id)
        return message_id


class SesTransport:
    name = "ses"

    def __init__(self, client: Any, timeout: float = SES_TIMEOUT_SECONDS) -> None:
        self.client = client
        self.timeout = timeout

    def send(self, message: EmailMessage) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            out = self.client.send_raw_email(
                # Only the address: SES wants the envelope sender in ASCII, and str() of the
                # header is its decoded display name (the raw message keeps it encoded).
                Source=parseaddr(str(message["From"]))[1],
                Destinations=_recipients(message),
                RawMessage={"Data": message.as_bytes()},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            text = exc.response.get("Error", {}).get("Message", "")
            if code in {
                "Throttling",
                "ThrottlingException",
                "ServiceUnavailable",
                "TooManyRequestsException",
            }:
                raise DeliveryError(f"SES throttled: {code} {text}", retryable=True) from None
            raise DeliveryError(f"SES rejected the message: {code}: {text}", retryable=False) from None
        except BotoCoreError as exc:
            raise DeliveryError(f"SES unreachable: {type(exc).__name__}", retryable=True) from None
        log.info("ses: sent to %d recipient(s): %s", len(_recipients(message)), out["MessageId"])
        return str(out["MessageId"])


def mail_transport_from_settings(settings: Settings, *, ses_client: Any | None = None) -> MailTransport:
    if settings.alert_channel == "ses":
        import boto3
        from botocore.config import Config

        bounded = Config(
            connect_timeout=SES_TIMEOUT_SECONDS / 2,
            read_timeout=SES_TIMEOUT_SECONDS / 2,
            retries={"mode": "standard", "max_attempts": 1},
        )
        return SesTransport(
            ses_client
            or boto3.client("ses", region_name=settings.ses_region or settings.region, config=bounded)
        )
    return SmtpTransport(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout,
    )
