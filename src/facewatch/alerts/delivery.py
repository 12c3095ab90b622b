"""notify's core: deliver each alert once on each of its household's channels. A claim
(a conditional create) keeps two invocations from sending the same alert, a sent record
keeps it from going out twice later; what fails is retried within a time budget
(retries.py) and then kept as a dead letter (dead_letters.py). An alert is never lost: it
is sent, or it is stored, or the caller gets an error and delivers it again."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from facewatch.alerts import mqtt, webhook
from facewatch.alerts.channels import Channel, DeliveryError
from facewatch.alerts.dead_letters import keep_dead_letter
from facewatch.alerts.home_assistant import Topics, alert_messages
from facewatch.alerts.links import Links, alert_links
from facewatch.alerts.mail import build_alert_email, build_operator_email
from facewatch.alerts.retries import RetryPolicy, send_with_retries
from facewatch.config import Settings
from facewatch.exceptions import (
    AlertError,
    AlertInProgress,
    BadInput,
    ObjectMissing,
    WriteConflict,
)
from facewatch.faces.crops import crop_face
from facewatch.household.rules import quiet_reason
from facewatch.household.settings import Recipients, load_household_settings, resolve
from facewatch.images import decode_bgr
from facewatch.layout import alert_claim_key, alert_face_key, sent_alert_key
from facewatch.records import Alert
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


DELIVERY_BUDGET_SECONDS = 30.0
"""The longest deliver() spends sending one alert, every channel and retry included (S3
reads before the first send count against it too). Callers wait longer: HttpNotifier
(alerts/handover.py) 45 s, notify's own Lambda and Knative timeouts 60 s."""


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
    if name == "mqtt":
        return _mqtt_sender(alert, storage=storage, settings=settings, recipients=recipients, links=links)
    if not recipients.webhook_url:
        raise AlertError("webhook channel chosen but no webhook_url set for the household")
    return partial(webhook.post_webhook, recipients.webhook_url, alert, links)


def _mqtt_sender(
    alert: Alert, *, storage: Storage, settings: Settings, recipients: Recipients, links: Links
) -> Callable[[], str]:
    """The alert's MQTT messages, built once: its face is cut from the frame and kept in the
    bucket (for the presigned face_url), then published with the visit."""
    if recipients.mqtt_url is None:
        raise DeliveryError(
            "mqtt channel chosen but no broker: set FACEWATCH_MQTT_URL or the household's mqtt_url",
            retryable=False,
        )
    try:
        broker = mqtt.parse_broker(
            recipients.mqtt_url.get_secret_value(),
            ca_file=settings.mqtt_ca_file,
            protocol=settings.mqtt_protocol,
        )
    except BadInput as exc:
        raise DeliveryError(str(exc), retryable=False) from None
    face_jpeg = face_url = None
    if alert.strangers:
        frame = decode_bgr(storage.get(alert.frame_key).body, settings.max_image_pixels)
        face_jpeg = crop_face(frame, alert.strangers[0].box)
        face_key = alert_face_key(alert.household, alert.alert_id)
        storage.put(face_key, face_jpeg, content_type="image/jpeg")
        face_url = storage.presigned_url(face_key, settings.presign_seconds)
    messages = alert_messages(
        Topics(settings.mqtt_prefix, settings.mqtt_discovery_prefix),
        alert,
        face_jpeg=face_jpeg,
        frame_url=links.frame_url,
        face_url=face_url,
    )
    return partial(mqtt.publish, broker, messages, timeout=settings.mqtt_timeout)


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


def _attempt_seconds(name: str, channel: Channel, settings: Settings) -> float:
    """The longest one send on this channel may take."""
    if name == "mqtt":
        return settings.mqtt_timeout
    if name == "webhook":
        return webhook.WEBHOOK_TIMEOUT_SECONDS
    # A channel that does not say is assumed to take as long as this deployment's others.
    return float(getattr(channel, "timeout", webhook.WEBHOOK_TIMEOUT_SECONDS))


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
        return keep_dead_letter(storage, alert, [f"settings: {exc}"], now)
    recipients = resolve(own, settings)
    # An operator alert is one email to whoever runs facewatch, whatever the household chose.
    channels = ["email"] if alert.kind == "operator" else recipients.channels
    pending = [c for c in channels if not storage.exists(sent_alert_key(alert.household, alert.alert_id, c))]
    if not pending:
        log.info("alert %s was already sent; not sending it twice", alert.alert_id)
        return "already sent"
    done, failures, quiet = [], [], []
    for name in list(pending):
        window = None if alert.kind == "operator" else recipients.quiet_hours.get(name)
        why = quiet_reason(window, name, alert.captured_at, recipients.timezone)
        if why is not None:
            # Recorded as this channel's outcome, so a redelivery does not send it later.
            storage.put_json(
                sent_alert_key(alert.household, alert.alert_id, name),
                {
                    "alert_id": alert.alert_id,
                    "channel": name,
                    "delivery_id": f"suppressed: {why}",
                    "sent_at": now,
                },
            )
            quiet.append(f"{name} suppressed: {why}")
            pending.remove(name)
    for i, name in enumerate(pending):
        sent_key = sent_alert_key(alert.household, alert.alert_id, name)
        claim = _claim(storage, alert, name)
        if storage.exists(sent_key):
            # Another invocation sent it and let go of its claim after our check above.
            storage.delete(claim)
            continue
        # Retries here may not use the time each later channel needs for its first attempt.
        reserved = sum(_attempt_seconds(later, channel, settings) for later in pending[i + 1 :])
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
                attempt_seconds=_attempt_seconds(name, channel, settings),
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
        return keep_dead_letter(storage, alert, failures, now)
    if not done:
        return f"suppressed: {'; '.join(quiet)}" if quiet else "already sent"
    log.info(
        "alert %s for %s/%s delivered: %s", alert.alert_id, alert.household, alert.camera, ", ".join(done)
    )
    return f"sent {', '.join(done + quiet)}"
