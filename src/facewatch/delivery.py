"""notify's core: deliver each alert once, retry what fails for a while, and keep what still
fails as a dead letter in the bucket for `facewatch alerts retry`. An alert is never lost:
it is sent, or it is stored, or the caller gets an error and delivers it again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from facewatch.channels import Channel
from facewatch.config import Settings
from facewatch.exceptions import AlertError, ObjectMissing
from facewatch.households import load_household_settings, resolve
from facewatch.layout import dead_alert_key, dead_alerts_prefix, sent_alert_key
from facewatch.mail import build_alert_email
from facewatch.storage import Storage
from facewatch.verdicts import Alert

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    first_pause: float = 1.0
    """Pauses double: 1 + 2 + 4 s rides out a mail server restart within one invocation."""


def _retryable(exc: AlertError) -> bool:
    return bool(getattr(exc, "retryable", True))


def send_with_retries(send: Callable[[], str], policy: RetryPolicy, pause: Callable[[float], None]) -> str:
    delay = policy.first_pause
    for attempt in range(1, policy.attempts + 1):
        try:
            return send()
        except AlertError as exc:
            if attempt == policy.attempts or not _retryable(exc):
                raise
            log.warning(
                "send failed (attempt %d of %d), retrying in %.0fs: %s", attempt, policy.attempts, delay, exc
            )
            pause(delay)
            delay *= 2
    raise AssertionError("unreachable")


def deliver(
    alert: Alert,
    *,
    storage: Storage,
    channel: Channel,
    settings: Settings,
    retry: RetryPolicy | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> str:
    """Send the alert unless it was sent before; returns 'sent …', 'already sent' or
    'dead-lettered: …'. Raises only when the alert could be neither sent nor stored."""
    sent_key = sent_alert_key(alert.household, alert.alert_id)
    if storage.exists(sent_key):
        log.info("alert %s was already sent; not sending it twice", alert.alert_id)
        return "already sent"
    recipients = resolve(load_household_settings(storage, alert.household), settings)
    try:
        frame = storage.get(alert.frame_key).body
        message = build_alert_email(
            alert,
            frame,
            mail_from=settings.mail_from,
            mail_to=recipients.mail_to,
            timezone=recipients.timezone,
        )
        delivery_id = send_with_retries(lambda: channel.send(message), retry or RetryPolicy(), pause)
    except (AlertError, ObjectMissing) as exc:
        storage.put_json(
            dead_alert_key(alert.household, alert.alert_id),
            {"alert": alert.model_dump(mode="json"), "error": str(exc), "failed_at": datetime.now(UTC)},
        )
        log.error("alert %s kept as a dead letter: %s", alert.alert_id, exc)
        return f"dead-lettered: {exc}"
    storage.put_json(
        sent_key, {"alert_id": alert.alert_id, "delivery_id": delivery_id, "sent_at": datetime.now(UTC)}
    )
    log.info("alert %s for %s/%s delivered: %s", alert.alert_id, alert.household, alert.camera, delivery_id)
    return f"sent {delivery_id}"


def retry_dead_letters(
    *, storage: Storage, channel: Channel, settings: Settings, household: str | None = None
) -> dict[str, str]:
    """Send every dead-lettered alert again (`facewatch alerts retry`). A letter is removed
    only after its alert was sent; one that fails again is rewritten with the new error."""
    import json

    households = [household] if household else storage.list_households()
    outcomes: dict[str, str] = {}
    for name in households:
        for key in list(storage.list_keys(dead_alerts_prefix(name))):
            alert = Alert.parse(json.dumps(storage.get_json(key)["alert"]))
            outcome = deliver(
                alert, storage=storage, channel=channel, settings=settings, retry=RetryPolicy(attempts=1)
            )
            if not outcome.startswith("dead-lettered"):
                storage.delete(key)
            outcomes[alert.alert_id] = outcome
    return outcomes
