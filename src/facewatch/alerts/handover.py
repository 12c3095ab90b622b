"""How recognize hands an alert to notify: an HTTP POST (functions-framework, Knative,
Cloud Run) or an asynchronous Lambda invocation (AWS). Chosen by configuration."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import requests
from pydantic import SecretStr

from facewatch.config import Settings
from facewatch.exceptions import AlertError
from facewatch.records import Alert

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def send(self, alert: Alert) -> str:
        """Hand the alert over; returns a short description of what happened."""
        ...


NOTIFY_WAIT_SECONDS = 45.0
"""How long recognize waits for notify's answer. notify spends at most
DELIVERY_BUDGET_SECONDS (30 s, delivery.py) sending, every channel and retry included, plus
its S3 writes after the last send (a sent record or dead letter, a claim released: well under
a second each when the bucket answers); 45 s leaves 15 s for those and for the request
itself. notify's own timeout (Lambda, Knative) is 60 s, above both."""


class HttpNotifier:
    def __init__(
        self,
        url: str,
        timeout: float = NOTIFY_WAIT_SECONDS,
        session: requests.Session | None = None,
        token: SecretStr | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.session = session or requests.Session()
        self.token = token
        """notify's bearer token (FACEWATCH_NOTIFY_TOKEN), sent with every alert."""

    def send(self, alert: Alert) -> str:
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        try:
            response = self.session.post(
                self.url,
                data=alert.model_dump_json(),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # the token goes to notify and nowhere else
            )
        except requests.RequestException as exc:
            raise AlertError(f"notify at {self.url} unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise AlertError(f"notify at {self.url} answered {response.status_code}: {response.text[:300]}")
        if response.status_code == 202:
            # Not sent, but kept by notify as a dead letter: no reason to hand it over again.
            return "dead-lettered"
        return handed_over(response)


def handed_over(response: requests.Response) -> str:
    """What recognize records of a hand-over notify accepted: 'sent', or what the
    household's rules held back (quiet hours on a channel: `facewatch events` shows it)."""
    try:
        delivered = str(response.json().get("delivered", ""))
    except (ValueError, AttributeError):
        return "sent"
    if delivered.startswith("suppressed"):
        return delivered
    quiet = [part.strip() for part in delivered.split(",") if " suppressed: " in part]
    return f"sent ({'; '.join(quiet)})" if quiet else "sent"


class LambdaNotifier:
    """Asynchronous invoke: Lambda queues the event and retries notify on failure, with the
    function's on-failure destination catching what never succeeds."""

    def __init__(self, client: Any, function_name: str) -> None:
        self.client = client
        self.function_name = function_name

    def send(self, alert: Alert) -> str:
        try:
            self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=alert.model_dump_json().encode(),
            )
        except Exception as exc:
            raise AlertError(f"could not invoke {self.function_name}: {type(exc).__name__}: {exc}") from exc
        return "queued"


class LogNotifier:
    """No notify configured: the alert is logged so it is not silently dropped."""

    def send(self, alert: Alert) -> str:
        log.warning(
            "no notify target configured; alert not delivered: %s", json.dumps(alert.model_dump(mode="json"))
        )
        return "not configured"


def notifier_from_settings(settings: Settings) -> Notifier:
    if settings.notify_url:
        return HttpNotifier(settings.notify_url, token=settings.notify_token)
    if settings.notify_function:
        import boto3

        return LambdaNotifier(boto3.client("lambda", region_name=settings.region), settings.notify_function)
    return LogNotifier()
