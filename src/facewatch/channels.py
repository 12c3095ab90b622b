"""Delivery channels for alert emails: SMTP (plain, STARTTLS or SSL, with auth) and Amazon
SES (`send_raw_email`). Every failure is an AlertError that says what failed and where,
never a secret, and whether trying again later may help (`retryable`)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Literal, Protocol

from facewatch.config import Settings
from facewatch.exceptions import AlertError

log = logging.getLogger(__name__)


class DeliveryError(AlertError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str

    def send(self, message: EmailMessage) -> str: ...


def _recipients(message: EmailMessage) -> list[str]:
    return [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])) if addr]


class SmtpChannel:
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
        return f"SmtpChannel({self.host}:{self.port}, security={self.security}, user={self.username!r})"

    def send(self, message: EmailMessage) -> str:
        where = f"{self.host}:{self.port}"
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=context)
                if self.username:
                    client.login(self.username, self._password or "")
                client.send_message(message, to_addrs=_recipients(message))
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError(
                f"SMTP authentication failed for user {self.username!r} at {where}", retryable=False
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP server {where} refused every recipient", retryable=False) from exc
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
        message_id = str(message["Message-ID"])
        log.info("smtp: sent to %d recipient(s): %s", len(_recipients(message)), message_id)
        return message_id


class SesChannel:
    name = "ses"

    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, message: EmailMessage) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            out = self.client.send_raw_email(
                Source=str(message["From"]),
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


def channel_from_settings(settings: Settings, *, ses_client: Any | None = None) -> Channel:
    if settings.alert_channel == "ses":
        import boto3

        return SesChannel(
            ses_client or boto3.client("ses", region_name=settings.ses_region or settings.region)
        )
    return SmtpChannel(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout,
    )
