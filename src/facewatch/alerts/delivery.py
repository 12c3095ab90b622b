"""notify's core: deliver each alert once, retry what fails for a while, and keep what still
fails as a dead letter in the bucket for `facewatch alerts retry`. An alert is never lost:
it is sent, or it is stored, or the caller gets an error and delivers it again."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from facewatch.alerts.channels import Channel
from facewatch.alerts.household_settings import Recipients, load_household_settings, resolve
from facewatch.alerts.mail import build_alert_email, build_operator_email
from facewatch.config import Settings
from facewatch.exceptions import (
    AlertError,
    AlertInProgress,
    BadInput,
    ObjectMissing,
    StorageError,
    WriteConflict,
)
from facewatch.layout import alert_claim_key, dead_alert_key, dead_alerts_prefix, sent_alert_key
from facewatch.records import Alert
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


DELIVERY_BUDGET_SECONDS = 30.0
"""The longest deliver() spends sending one alert, every channel and retry included (S3
reads before the first send count against it too). Callers wait longer: HttpNotifier
(notifier.py) 45 s, notify's own Lambda and Knative timeouts 60 s."""

WEBHOOK_TIMEOUT_SECONDS = 10.0
"""The longest one webhook POST may take (connect, and then each read)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    first_pause: float = 1.0
    """Pauses double: 1 + 2 + 4 s rides out a mail server restart within one invocation,
    as long as the attempts fail fast; slow failures are cut short by the time budget."""


def _retryable(exc: AlertError) -> bool:
    return bool(getattr(exc, "retryable", True))


def another_try_fits(pause: float, *, now: float, deadline: float, attempt_seconds: float) -> bool:
    """Whether a pause and then one more attempt, as long as the channel's timeout allows,
    ends by the deadline."""
    return now + pause + attempt_seconds <= deadline


def send_with_retries(
    send: Callable[[], str],
    policy: RetryPolicy,
    pause: Callable[[float], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    deadline: float = float("inf"),
    attempt_seconds: float = 0.0,
) -> str:
    delay = policy.first_pause
    for attempt in range(1, policy.attempts + 1):
        try:
            return send()
        except AlertError as exc:
            if not _retryable(exc) or attempt == policy.attempts:
                raise
            if not another_try_fits(delay, now=clock(), deadline=deadline, attempt_seconds=attempt_seconds):
                log.warning("send failed (attempt %d), no time left to try again: %s", attempt, exc)
                raise
            log.warning(
                "send failed (attempt %d of %d), retrying in %.0fs: %s", attempt, policy.attempts, delay, exc
            )
            pause(delay)
            delay *= 2
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Links:
    frame_url: str
    """A presigned link to the full frame; it expires."""
    known_url: str | None
    """The signed "I know this person" link, when the deployment has a link secret."""


def alert_links(alert: Alert, storage: Storage, settings: Settings, now: datetime) -> Links:
    from datetime import timedelta

    from facewatch.tokens import sign_face

    frame_url = storage.presigned_url(alert.frame_key, settings.presign_seconds)
    known_url = None
    if settings.link_secret is not None and settings.feedback_url and alert.strangers:
        token = sign_face(
            settings.link_secret.get_secret_value(),
            alert.household,
            alert.frame_key,
            alert.strangers[0].box,
            now=now,
            ttl=timedelta(seconds=settings.link_ttl_seconds),
        )
        known_url = f"{settings.feedback_url.rstrip('/')}/?token={token}"
    return Links(frame_url, known_url)


def post_webhook(url: str, alert: Alert, links: Links, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> str:
    """The generic webhook channel (Home Assistant, ntfy, …): a JSON POST with the links."""
    import requests

    payload = {
        "event": "facewatch.stranger",
        "alert_id": alert.alert_id,
        "household": alert.household,
        "camera": alert.camera,
        "captured_at": alert.captured_at.isoformat(),
        "visit_id": alert.visit_id,
        "visit_frames": alert.visit_frames,
        "strangers": len(alert.strangers),
        "stranger_id": alert.stranger_id,
        "stranger_visits": alert.stranger_visits,
        "stranger_previous_seen": (
            alert.stranger_previous_seen.isoformat() if alert.stranger_previous_seen else None
        ),
        "photo_url": links.frame_url,
        "known_url": links.known_url,
    }
    try:
        response = requests.post(url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise AlertError(f"webhook {url.split('?')[0]} unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 300:
        error = AlertError(f"webhook {url.split('?')[0]} answered {response.status_code}")
        error.retryable = response.status_code >= 500 or response.status_code == 429  # type: ignore[attr-defined]
        raise error
    return f"webhook {response.status_code}"


def _sender(
    name: str,
    alert: Alert,
    *,
    storage: Storage,
    channel: Channel,
    settings: Settings,
    recipients: Recipients,
    now: datetime,
) -> Callable[[], str]:
    """A ready-to-call send of the alert on one channel, built once so retries resend it."""
    if alert.kind == "operator":
        to = settings.operator_mail_to or recipients.mail_to
        return partial(channel.send, build_operator_email(alert, mail_from=settings.mail_from, mail_to=to))
    links = alert_links(alert, storage, settings, now)
    if name == "email":
        message = build_alert_email(
            alert,
            storage.get(alert.frame_key).body,
            mail_from=settings.mail_from,
            mail_to=recipients.mail_to,
            timezone=recipients.timezone,
            links=links,
        )
        return partial(channel.send, message)
    if not recipients.webhook_url:
        raise AlertError("webhook channel chosen but no webhook_url set for the household")
    return partial(post_webhook, recipients.webhook_url, alert, links)


CLAIM_SECONDS = 120.0
"""How long a send in progress holds its claim: longer than any send with its retries
(DELIVERY_BUDGET_SECONDS), so only a claim of an invocation that died is taken over."""


def _claim(storage: Storage, alert: Alert, channel: str) -> str:
    """Take the right to send this alert on this channel. Two invocations with the same
    alert (a redelivered event handled while the first is still running) must not both
    send: the claim is a conditional create, so exactly one wins. A claim older than
    CLAIM_SECONDS belongs to an invocation that died, and is taken over."""
    key = alert_claim_key(alert.household, alert.alert_id, channel)
    # Stamped when taken, not when deliver started: an earlier channel's slow send must
    # not make this claim look old to another invocation.
    now = datetime.now(UTC)
    body = {"alert_id": alert.alert_id, "claimed_at": now.isoformat()}
    try:
        storage.put_json(key, body, if_none_match=True)
        return key
    except WriteConflict:
        pass
    try:
        held = storage.get(key)
    except ObjectMissing:
        return _claim(storage, alert, channel)  # released meanwhile
    claimed_at = datetime.fromisoformat(json.loads(held.body)["claimed_at"])
    if (now - claimed_at).total_seconds() < CLAIM_SECONDS:
        raise AlertInProgress(f"alert {alert.alert_id} is being sent by another invocation")
    storage.put_json(key, body, if_match=held.etag)  # a lost race here raises: retried later
    return key


def _attempt_seconds(name: str, channel: Channel) -> float:
    """The longest one send on this channel may take."""
    if name == "webhook":
        return WEBHOOK_TIMEOUT_SECONDS
    # A channel that does not say is assumed to take as long as this deployment's others.
    return float(getattr(channel, "timeout", WEBHOOK_TIMEOUT_SECONDS))


def _dead_letter(storage: Storage, alert: Alert, failures: list[str], now: datetime) -> str:
    storage.put_json(
        dead_alert_key(alert.household, alert.alert_id),
        {"alert": alert.model_dump(mode="json"), "errors": failures, "failed_at": now},
    )
    log.error("alert %s kept as a dead letter: %s", alert.alert_id, "; ".join(failures))
    return f"dead-lettered: {'; '.join(failures)}"


def deliver(
    alert: Alert,
    *,
    storage: Storage,
    channel: Channel,
    settings: Settings,
    retry: RetryPolicy | None = None,
    pause: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    budget: float = DELIVERY_BUDGET_SECONDS,
) -> str:
    """Send the alert on each of the household's channels that has not had it yet, within
    `budget` seconds; returns 'sent …', 'already sent' or 'dead-lettered: …'. Raises only
    when the alert could be neither sent nor stored (the caller then delivers it again)."""
    now = now or datetime.now(UTC)
    deadline = clock() + budget
    try:
        own = load_household_settings(storage, alert.household)
    except BadInput as exc:
        # A hand-edited settings.json must not cost the alert: it waits for the fix and
        # `facewatch alerts retry`. Nothing is claimed yet, so nothing is left held.
        return _dead_letter(storage, alert, [f"settings: {exc}"], now)
    recipients = resolve(own, settings)
    # An operator alert is one email to whoever runs facewatch, whatever the household chose.
    channels = ["email"] if alert.kind == "operator" else recipients.channels
    pending = [c for c in channels if not storage.exists(sent_alert_key(alert.household, alert.alert_id, c))]
    if not pending:
        log.info("alert %s was already sent; not sending it twice", alert.alert_id)
        return "already sent"
    done, failures = [], []
    for i, name in enumerate(pending):
        sent_key = sent_alert_key(alert.household, alert.alert_id, name)
        claim = _claim(storage, alert, name)
        if storage.exists(sent_key):
            # Another invocation sent it and let go of its claim after our check above.
            storage.delete(claim)
            continue
        # Retries here may not use the time each later channel needs for its first attempt.
        reserved = sum(_attempt_seconds(later, channel) for later in pending[i + 1 :])
        try:
            send = _sender(
                name,
                alert,
                storage=storage,
                channel=channel,
                settings=settings,
                recipients=recipients,
                now=now,
            )
            delivery_id = send_with_retries(
                send,
                retry or RetryPolicy(),
                pause,
                clock=clock,
                deadline=deadline - reserved,
                attempt_seconds=_attempt_seconds(name, channel),
            )
        except (AlertError, ObjectMissing) as exc:
            failures.append(f"{name}: {exc}")
            storage.delete(claim)  # a later retry may try again at once
            continue
        storage.put_json(
            sent_key,
            {"alert_id": alert.alert_id, "channel": name, "delivery_id": delivery_id, "sent_at": now},
        )
        storage.delete(claim)  # the sent record keeps it from going out twice from now on
        done.append(f"{name} {delivery_id}")
    if failures:
        return _dead_letter(storage, alert, failures, now)
    if not done:
        return "already sent"
    log.info(
        "alert %s for %s/%s delivered: %s", alert.alert_id, alert.household, alert.camera, ", ".join(done)
    )
    return f"sent {', '.join(done)}"


def retry_dead_letters(
    *, storage: Storage, channel: Channel, settings: Settings, household: str | None = None
) -> dict[str, str]:
    """Send every dead-lettered alert again (`facewatch alerts retry`). A letter is removed
    only after its alert was sent; one that fails again is rewritten with the new error,
    and one that cannot even be tried is reported as still failing, the others go on."""

    households = [household] if household else storage.list_households()
    outcomes: dict[str, str] = {}
    for name in households:
        try:
            keys = list(storage.list_keys(dead_alerts_prefix(name)))
        except StorageError as exc:
            outcomes[f"{name}/*"] = f"dead-lettered: could not list: {exc}"
            continue
        for key in keys:
            letter = key.rsplit("/", 1)[-1].removesuffix(".json")
            try:
                alert = Alert.parse(json.dumps(storage.get_json(key)["alert"]))
                letter = alert.alert_id
                outcome = deliver(
                    alert, storage=storage, channel=channel, settings=settings, retry=RetryPolicy(attempts=1)
                )
                if not outcome.startswith("dead-lettered"):
                    storage.delete(key)
            except Exception as exc:  # whatever one letter's trouble, the others go on
                log.error("dead letter %s not retried: %s: %s", key, type(exc).__name__, exc)
                outcome = f"dead-lettered: not retried: {type(exc).__name__}: {exc}"
            outcomes[letter] = outcome
    return outcomes
