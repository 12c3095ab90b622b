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
from facewatch.records import Alert, AlertKind, AlertOutcome, Delivery, DeliveryStatus

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def send(self, alert: Alert) -> AlertOutcome:
        """Hand the alert over; returns what became of it, as far as this side knows."""
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
        self.session = session or _session_without_environment()
        self.token = token
        """notify's bearer token (FACEWATCH_NOTIFY_TOKEN), sent with every alert."""

    def send(self, alert: Alert) -> AlertOutcome:
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
            return AlertOutcome(status=DeliveryStatus.DEAD_LETTERED, kind=alert.kind)
        return handed_over(response, alert.kind)


def _session_without_environment() -> requests.Session:
    """A session that takes no proxy (HTTP(S)_PROXY) or .netrc from the environment: the
    bearer token goes to notify and nowhere else."""
    session = requests.Session()
    session.trust_env = False
    return session


def handed_over(response: requests.Response, kind: AlertKind) -> AlertOutcome:
    """What recognize records of a hand-over notify accepted: sent, or held back by the
    household's rules (quiet hours on a channel: `facewatch events` shows which), read from
    the `channels` of notify's answer."""
    try:
        delivery = Delivery.model_validate(response.json())
    except ValueError:  # pydantic's ValidationError and a body that is not JSON alike
        return AlertOutcome(status=DeliveryStatus.SENT, kind=kind)
    if delivery.status is DeliveryStatus.HELD_BACK:
        return AlertOutcome(
            status=DeliveryStatus.HELD_BACK,
            detail=delivery.held_back(),
            kind=kind,
            held_back_by=delivery.held_back_by,
        )
    return AlertOutcome(status=DeliveryStatus.SENT, detail=delivery.held_back(), kind=kind)


class LambdaNotifier:
    """Asynchronous invoke: Lambda queues the event and retries notify on failure, with the
    function's on-failure destination catching what never succeeds."""

    def __init__(self, client: Any, function_name: str) -> None:
        self.client = client
        self.function_name = function_name

    def send(self, alert: Alert) -> AlertOutcome:
        try:
            self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=alert.model_dump_json().encode(),
            )
        except Exception as exc:
            raise AlertError(f"could not invoke {self.function_name}: {type(exc).__name__}: {exc}") from exc
        return AlertOutcome(status=DeliveryStatus.QUEUED, kind=alert.kind)


class LogNotifier:
    """No notify configured: the alert is logged so it is not silently dropped."""

    def send(self, alert: Alert) -> AlertOutcome:
        log.warning(
            "no notify target configured; alert not delivered: %s", json.dumps(alert.model_dump(mode="json"))
        )
        return AlertOutcome(status=DeliveryStatus.NOT_CONFIGURED, kind=alert.kind)


def notifier_from_settings(settings: Settings) -> Notifier:
    if settings.notify_url:
        return HttpNotifier(settings.notify_url, token=settings.notify_token)
    if settings.notify_function:
        import boto3

        return LambdaNotifier(boto3.client("lambda", region_name=settings.region), settings.notify_function)
    return LogNotifier()
