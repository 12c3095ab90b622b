"""notify's core: deliver each alert once on each of its household's channels. A claim
(a conditional create) keeps two invocations from sending the same alert, a sent record
keeps it from going out twice later; what fails is retried within a time budget
(retries.py) and then kept as a dead letter (keep_dead_letter, here; dead_letters.py sends
them again through deliver). An alert is never lost: it is sent, or it is stored, or the
caller gets an error and delivers it again."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from facewatch.alerts import mqtt, webhook
from facewatch.alerts.announce import (
    household_broker,
    household_view,
    pending_announcement,
    record_announced,
)
from facewatch.alerts.home_assistant import Message, Topics, alert_messages
from facewatch.alerts.links import Links, alert_links, picture_link
from facewatch.alerts.mail import build_alert_email, build_operator_email
from facewatch.alerts.mail_transport import MailTransport
from facewatch.alerts.retries import RetryPolicy, send_with_retries
from facewatch.alerts.visit_counts import count_visit
from facewatch.config import Settings
from facewatch.exceptions import (
    AlertError,
    AlertInProgress,
    BadInput,
    DeliveryError,
    ObjectMissing,
    WriteConflict,
)
from facewatch.faces.crops import crop_face
from facewatch.household.addresses import check_recipients
from facewatch.household.rules import quiet_reason
from facewatch.household.settings import ChannelName, Recipients, load_household_settings, resolve
from facewatch.images import decode_bgr
from facewatch.layout import alert_claim_key, alert_face_key, dead_alert_key, sent_alert_key
from facewatch.outbound import policy_from_settings
from facewatch.records import Alert, ChannelOutcome, Delivery, DeliveryStatus
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


DELIVERY_BUDGET_SECONDS = 30.0
"""The longest deliver() spends sending one alert, every channel and retry included (S3
reads before the first send count against it too). Callers wait longer: HttpNotifier
(alerts/handover.py) 45 s, notify's own Lambda and Knative timeouts 60 s."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What every channel's sender reads: the alert and where it goes."""

    alert: Alert
    storage: Storage
    mail: MailTransport
    settings: Settings
    recipients: Recipients
    links: Links


def _send_email(out: Outgoing) -> Callable[[], str]:
    message = build_alert_email(
        out.alert,
        out.storage.get(out.alert.frame_key).body,
        mail_from=out.settings.mail_from,
        mail_to=_mail_to(out.recipients.mail_to),
        timezone=out.recipients.timezone,
        links=out.links,
    )
    return partial(out.mail.send, message)


def _send_webhook(out: Outgoing) -> Callable[[], str]:
    if not out.recipients.webhook_url:
        raise AlertError("webhook channel chosen but no webhook_url set for the household")
    policy = policy_from_settings(out.settings)
    return partial(webhook.post_webhook, out.recipients.webhook_url, out.alert, out.links, policy=policy)


def _mail_to(addresses: list[str]) -> list[str]:
    """The recipients, checked again as the email is built (a list stored before they were
    checked when saved): an AlertError, so the channel's claim is let go and the alert kept."""
    try:
        return check_recipients(addresses)
    except BadInput as exc:
        raise AlertError(f"not mailed: {exc}") from None


def _send_mqtt(out: Outgoing) -> Callable[[], str]:
    """The alert's MQTT messages. A household's own broker is checked against the outbound
    policy first, at each attempt: one the deployment does not connect to gets nothing, not
    even its face cut and kept in the bucket for it. Then, once (retries resend them), the
    face is cut from the frame and kept (for the presigned face_url), the visit counted in
    the day's, and the messages published with the visit. A camera (or household device)
    the broker has not had as it is now is announced first, in the same session, and the
    visit waits `mqtt_announce_seconds` for Home Assistant to subscribe to it."""
    settings, alert = out.settings, out.alert
    if out.recipients.mqtt_url is None:
        raise DeliveryError(
            "mqtt channel chosen but no broker: set FACEWATCH_MQTT_URL or the household's mqtt_url",
            retryable=False,
        )
    own = load_household_settings(out.storage, alert.household)
    try:
        hb = household_broker(own, settings)
    except BadInput as exc:
        raise DeliveryError(str(exc), retryable=False) from None
    view = household_view(alert.household, own, settings)
    messages: list[Message] = []

    def send() -> str:
        if hb.policy is not None:
            mqtt.check_broker(hb.broker, hb.policy)
        if not messages:
            messages.extend(_mqtt_messages(out, hb.topics, presence=own.presence))
        new = pending_announcement(out.storage, hb, view, [alert.camera])
        settle = settings.mqtt_announce_seconds if new.messages else 0.0
        said = hb.publish([*new.messages, *messages], settle_after=len(new.messages), settle_seconds=settle)
        record_announced(out.storage, alert.household, new.markers, datetime.now(UTC))
        return said

    return send


def _mqtt_messages(out: Outgoing, topics: Topics, *, presence: bool) -> list[Message]:
    """The alert's face cut from its frame and kept in the bucket, the visit counted, and
    its messages."""
    alert, storage, settings = out.alert, out.storage, out.settings
    face_jpeg = face_url = None
    if alert.faces:
        frame = decode_bgr(storage.get(alert.frame_key).body, settings.max_image_pixels)
        face_jpeg = crop_face(frame, alert.faces[0].box)
        face_key = alert_face_key(alert.household, alert.alert_id)
        storage.put(face_key, face_jpeg, content_type="image/jpeg")
        face_url = picture_link(storage, settings, alert.household, face_key, datetime.now(UTC))
    return alert_messages(
        topics,
        alert,
        face_jpeg=face_jpeg,
        frame_url=out.links.frame_url,
        face_url=face_url,
        console_url=out.links.console_url,
        known_url=out.links.known_url,
        question_url=out.links.question_url,
        today=count_visit(storage, alert, out.recipients.timezone),
        presence=presence,
    )


@dataclass(frozen=True, slots=True)
class Sender:
    """One channel's way out: `build` makes a ready-to-call send of the alert, built once so
    retries resend it; `attempt_seconds` is the longest one send may take (for the budget)."""

    build: Callable[[Outgoing], Callable[[], str]]
    attempt_seconds: Callable[[Settings, MailTransport], float]


SENDERS: dict[ChannelName, Sender] = {
    # A transport that does not say is assumed to take as long as this deployment's others.
    "email": Sender(
        _send_email, lambda _, mail: float(getattr(mail, "timeout", webhook.WEBHOOK_TIMEOUT_SECONDS))
    ),
    "webhook": Sender(_send_webhook, lambda _, __: webhook.WEBHOOK_TIMEOUT_SECONDS),
    # A camera's first alert also waits for Home Assistant to subscribe (announce.py).
    "mqtt": Sender(_send_mqtt, lambda settings, _: settings.mqtt_timeout + settings.mqtt_announce_seconds),
}
"""One sender per channel a household may choose (household_settings.ChannelName; a unit
test keeps the two equal)."""


def _sender(
    name: ChannelName,
    alert: Alert,
    *,
    storage: Storage,
    mail: MailTransport,
    settings: Settings,
    recipients: Recipients,
    now: datetime,
) -> Callable[[], str]:
    """A ready-to-call send of the alert on one channel, built once so retries resend it."""
    if alert.kind == "operator":
        to = _mail_to(settings.operator_mail_to or recipients.mail_to)
        return partial(mail.send, build_operator_email(alert, mail_from=settings.mail_from, mail_to=to))
    links = alert_links(alert, storage, settings, now)
    return SENDERS[name].build(Outgoing(alert, storage, mail, settings, recipients, links))


def keep_dead_letter(storage: Storage, alert: Alert, delivery: Delivery, now: datetime) -> Delivery:
    """Keep an alert that could not be sent in the bucket (`alerts/dead/`), with why, for
    `facewatch alerts retry` (dead_letters.py)."""
    failures = [c.said() for c in delivery.of(DeliveryStatus.DEAD_LETTERED)]
    storage.put_json(
        dead_alert_key(alert.household, alert.alert_id),
        {"alert": alert.model_dump(mode="json"), "errors": failures, "failed_at": now},
    )
    log.error("alert %s kept as a dead letter: %s", alert.alert_id, "; ".join(failures))
    return delivery


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


def deliver(
    alert: Alert,
    *,
    storage: Storage,
    mail: MailTransport,
    settings: Settings,
    retry: RetryPolicy | None = None,
    pause: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    budget: float = DELIVERY_BUDGET_SECONDS,
) -> Delivery:
    """Send the alert on each of the household's channels that has not had it yet, within
    `budget` seconds; returns what became of it on each. Raises only when the alert could
    be neither sent nor stored (the caller then delivers it again)."""
    now = now or datetime.now(UTC)
    deadline = clock() + budget
    try:
        own = load_household_settings(storage, alert.household)
    except BadInput as exc:
        # A hand-edited settings.json must not cost the alert: it waits for the fix and
        # `facewatch alerts retry`. Nothing is claimed yet, so nothing is left held.
        failed = ChannelOutcome(channel=None, status=DeliveryStatus.DEAD_LETTERED, detail=f"settings: {exc}")
        return keep_dead_letter(storage, alert, Delivery(channels=[failed]), now)
    recipients = resolve(own, settings)
    # An operator alert is one email to whoever runs facewatch, whatever the household chose.
    channels: list[ChannelName] = ["email"] if alert.kind == "operator" else recipients.channels
    pending = [c for c in channels if not storage.exists(sent_alert_key(alert.household, alert.alert_id, c))]
    outcomes = [
        ChannelOutcome(channel=c, status=DeliveryStatus.ALREADY_SENT) for c in channels if c not in pending
    ]
    if not pending:
        log.info("alert %s was already sent; not sending it twice", alert.alert_id)
        return Delivery(channels=outcomes)
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
                    "delivery_id": f"suppressed: {why.detail}",
                    "sent_at": now,
                },
            )
            outcomes.append(
                ChannelOutcome(
                    channel=name, status=DeliveryStatus.HELD_BACK, detail=why.detail, held_back_by=why.by
                )
            )
            pending.remove(name)
    for i, name in enumerate(pending):
        sent_key = sent_alert_key(alert.household, alert.alert_id, name)
        claim = _claim(storage, alert, name)
        if storage.exists(sent_key):
            # Another invocation sent it and let go of its claim after our check above.
            storage.delete(claim)
            outcomes.append(ChannelOutcome(channel=name, status=DeliveryStatus.ALREADY_SENT))
            continue
        # Retries here may not use the time each later channel needs for its first attempt.
        reserved = sum(SENDERS[later].attempt_seconds(settings, mail) for later in pending[i + 1 :])
        try:
            send = _sender(
                name,
                alert,
                storage=storage,
                mail=mail,
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
                attempt_seconds=SENDERS[name].attempt_seconds(settings, mail),
            )
        except (AlertError, ObjectMissing) as exc:
            outcomes.append(
                ChannelOutcome(channel=name, status=DeliveryStatus.DEAD_LETTERED, detail=str(exc))
            )
            storage.delete(claim)  # a later retry may try again at once
            continue
        except BaseException:
            storage.delete(claim)  # a bug or a stop: held, it would block every redelivery
            raise
        storage.put_json(
            sent_key,
            {"alert_id": alert.alert_id, "channel": name, "delivery_id": delivery_id, "sent_at": now},
        )
        storage.delete(claim)  # the sent record keeps it from going out twice from now on
        outcomes.append(ChannelOutcome(channel=name, status=DeliveryStatus.SENT, detail=delivery_id))
    delivery = Delivery(channels=outcomes)
    if delivery.status is DeliveryStatus.DEAD_LETTERED:
        return keep_dead_letter(storage, alert, delivery, now)
    if delivery.status is DeliveryStatus.SENT:
        log.info("alert %s for %s/%s delivered: %s", alert.alert_id, alert.household, alert.camera, delivery)
    return delivery
