"""The functions' request handling, independent of how the request arrived
(functions-framework/Flask or AWS Lambda): plain inputs in, a Reply out."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from facewatch.exceptions import BadInput
from facewatch.frames import EARLIEST_CAPTURE
from facewatch.layout import check_id
from facewatch.records import Alert, DeliveryStatus
from facewatch.telemetry.logs import set_request_id
from facewatch.tokens import household_detect_token
from facewatch.web.services import Services
from facewatch.web.transport import Reply, Unauthorized, UnreadBody, require_bearer

if TYPE_CHECKING:
    from facewatch.config import Settings
    from facewatch.recognize.triggers import StorageEvent
    from facewatch.web.sns import SnsMessage

__all__ = ["Reply", "detect", "lambda_http_parts", "lambda_http_reply", "notify", "recognize"]

log = logging.getLogger(__name__)

EVENT_BYTES = 1024 * 1024
"""The largest storage notification recognize reads (S3 sends one record a message; a
webhook of a few hundred records still fits)."""
SNS_BODY_BYTES = 2 * 256 * 1024 + 16 * 1024
"""The largest body recognize reads before it knows who sent it: an SNS message, whose
signature inside the body is its only credential. SNS's largest Message (256 KB), room for
its quotes escaped in the envelope's JSON, and the envelope."""
ALERT_BYTES = 256 * 1024
"""The largest alert notify reads (an alert is a few KB; Lambda's async invoke takes 256 KB)."""


def _param(params: Mapping[str, str], headers: Mapping[str, str], name: str) -> str | None:
    if params.get(name):
        return params[name]
    wanted = f"x-facewatch-{name}".replace("_", "-")
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def detect(
    services: Services, *, headers: Mapping[str, str], params: Mapping[str, str], body: UnreadBody
) -> Reply:
    """A camera POSTs one JPEG/PNG frame; a frame with faces is stored exactly as the edge
    agent stores it (which triggers recognition), a frame without is dropped.

    `captured_at` (optional, ISO 8601) is when the frame was taken; a time without a zone
    is taken as UTC, and one before 2000 or over 5 minutes ahead of this clock is refused.
    The token is checked before the frame is read: it depends on the household and camera
    only, which the query or the headers name."""
    from facewatch.edge.posted import store_posted_frame
    from facewatch.edge.uploads import frame_tags

    settings = services.settings
    household = check_id(_param(params, headers, "household") or "", "household")
    camera = check_id(_param(params, headers, "camera") or "", "camera")
    require_bearer(headers, _detect_token(settings, household, camera))
    captured_at = _captured_at(_param(params, headers, "captured_at"))
    frame = body.read(settings.max_upload_bytes)
    stored = store_posted_frame(
        services.storage,
        services.detector,
        frame,
        household=household,
        camera=camera,
        captured_at=captured_at,
        max_pixels=settings.max_image_pixels,
        jpeg_quality=settings.jpeg_quality,
        tags=frame_tags(settings.frame_expiry_days),
    )
    if stored.key is None:
        return Reply(200, {"stored": None, "faces": []})
    set_request_id(stored.key)
    log.info("stored a frame of %d face(s) from %s/%s", len(stored.boxes), household, camera)
    return Reply(201, {"stored": stored.key, "faces": [b.as_list() for b in stored.boxes]})


def _detect_token(settings: Settings, household: str, camera: str) -> SecretStr | None:
    """The token this camera must present (Settings.detect_token_scope): the household's
    own by default, so a token taken from one household's camera files nothing under
    another's."""
    token = settings.detect_token
    if token is None or settings.detect_token_scope == "deployment":
        return token
    per_camera = camera if settings.detect_token_scope == "camera" else None
    return SecretStr(household_detect_token(token.get_secret_value(), household, per_camera))


CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of this server's clock a camera's may run before its time is refused."""


def _captured_at(value: str | None, now: datetime | None = None) -> datetime:
    """The frame's capture time: ISO 8601, a naive time taken as UTC; now when absent."""

    now = now or datetime.now(UTC)
    if not value:
        return now
    out_of_range = BadInput(
        f"captured_at {value!r} is out of range: must be after {EARLIEST_CAPTURE:%Y-%m-%d} "
        f"and at most {CLOCK_SKEW.seconds // 60} minutes ahead of this server's clock"
    )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"captured_at {value!r} is not an ISO 8601 time") from exc
    try:
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 shifted by its zone
        raise out_of_range from exc
    if not EARLIEST_CAPTURE <= parsed <= now + CLOCK_SKEW:
        raise out_of_range
    return parsed


def recognize(
    services: Services, *, headers: Mapping[str, str], body: UnreadBody | Mapping[str, Any]
) -> Reply:
    """A storage notification (S3 event, CloudEvent, MinIO or seaweedfs webhook, SNS) about
    uploads, or SNS confirming its subscription."""
    from facewatch.recognize.triggers import parse_event
    from facewatch.web.sns import SnsRefused

    if isinstance(body, UnreadBody):
        raw = body.read(_notification_limit(services.settings, headers))
        try:
            reply = _authenticate_notification(services, headers, raw)
        except SnsRefused as exc:
            raise Unauthorized(str(exc)) from exc
        if isinstance(reply, Reply):
            return reply
        if reply is not None:  # SNS-signed: its signed Message is all that is read
            return _recognize_sns(services, *reply)
        events = parse_event(raw, headers)
    else:  # Lambda's S3 trigger arrives decoded, through the Lambda API: no check needed
        events = parse_event(body, headers)
    return Reply(200, {"outcomes": _judge(services, events)})


def _judge(services: Services, events: list[StorageEvent]) -> list[dict[str, Any]]:
    """Each event handled, logged under its frame's key as request id, and measured."""
    from facewatch.web.observed import recognized

    outcomes = []
    for event in events:
        set_request_id(event.key)
        outcome = services.recognizer.handle(event)
        recognized(outcome)
        outcomes.append(outcome.summary())
    return outcomes


def _notification_limit(settings: Settings, headers: Mapping[str, str]) -> int:
    """How much of a notification's body may be read, once what needs no body is checked.
    A storage server's webhook carries the bearer token: checked here, before its body is
    read. SNS cannot send one, and its signature is inside the body: so a request without
    a bearer token that may be SNS's (topics are configured, or it says it is SNS's) is
    read, but no further than the largest SNS message."""
    from facewatch.web.sns import SNS_TYPE_HEADER

    if settings.webhook_token is None:
        # With topics and no token only a signed SNS message is taken: no more than one.
        return SNS_BODY_BYTES if settings.sns_topic_arns else EVENT_BYTES
    given = {k.lower(): v for k, v in headers.items()}
    bearer = given.get("authorization", "").lower().startswith("bearer ")
    if not bearer and (settings.sns_topic_arns or SNS_TYPE_HEADER in given):
        return SNS_BODY_BYTES
    require_bearer(headers, settings.webhook_token)
    return EVENT_BYTES


def _authenticate_notification(
    services: Services, headers: Mapping[str, str], body: bytes
) -> Reply | tuple[SnsMessage, datetime] | None:
    """Storage servers' webhooks carry the bearer token (None: go on with the request). SNS
    cannot send one: its messages are taken on their signature, from a topic in
    FACEWATCH_SNS_TOPIC_ARNS (web/sns.py), and only as SNS sends them, fresh
    (web/sns_replays.py); with topics and no token, nothing else is taken. A notification
    comes back with its signed Timestamp, and its messages about the subscription itself
    are answered here (the Reply)."""
    from facewatch.web.sns import sns_message
    from facewatch.web.sns_replays import check_envelope

    settings = services.settings
    sns = sns_message(body, headers)
    if sns is None or (sns.type == "Notification" and not settings.sns_topic_arns):
        if settings.webhook_token is None:
            if settings.sns_topic_arns:
                # require_bearer passes without a token: SNS's signature is then the only
                # proof this deployment has, and this request does not carry it.
                raise Unauthorized(
                    "recognize takes only SNS-signed messages here (FACEWATCH_SNS_TOPIC_ARNS is "
                    "set, FACEWATCH_WEBHOOK_TOKEN is not): this is not one"
                )
            _warn_tokenless_recognize()
        require_bearer(headers, settings.webhook_token)
        return None
    if sns.type == "SubscriptionConfirmation":
        check_envelope(sns, headers, datetime.now(UTC))
        return Reply(200, {"confirmed": services.sns.confirm(sns)})
    services.sns.verify(sns)
    stamp = check_envelope(sns, headers, datetime.now(UTC))
    if sns.type == "UnsubscribeConfirmation":
        return Reply(200, {"unsubscribed": sns.topic_arn})
    return sns, stamp


@cache
def _warn_tokenless_recognize() -> None:
    """Once per instance: a storage server's webhook without a token is anyone's to call."""
    log.warning(
        "recognize takes storage events over HTTP from whoever reaches it: FACEWATCH_WEBHOOK_TOKEN "
        "is not set (set it, and give the storage server's webhook the same token)"
    )


def _recognize_sns(services: Services, sns: SnsMessage, stamp: datetime) -> Reply:
    """A signed notification, once: a MessageId handled before is a duplicate, answered
    200; one still being handled is answered 503, so SNS sends it again later and a
    handling that dies or outlasts SNS's wait does not lose it."""
    from facewatch.recognize.triggers import parse_event
    from facewatch.web.sns_replays import Seen, signed_message

    claim = services.sns_seen.take(sns, stamp)
    if claim is Seen.DONE:
        log.info("SNS message %s was handled before: a duplicate, nothing done", sns.message_id)
        return Reply(200, {"duplicate": sns.message_id, "outcomes": []})
    if claim is Seen.IN_PROGRESS:
        log.info("SNS message %s is being handled: SNS is asked to send it again later", sns.message_id)
        return Reply(
            503,
            {
                "error": "InProgress",
                "message": f"SNS message {sns.message_id} is being handled; send it again later",
            },
        )
    try:
        events = parse_event(signed_message(sns))
        outcomes = _judge(services, events)
    except BaseException:
        services.sns_seen.release(claim)  # SNS sends it again: let that through
        raise
    services.sns_seen.done(claim, sns)
    return Reply(200, {"outcomes": outcomes})


NO_NOTIFY_TOKEN = (
    "notify takes no alert over HTTP until FACEWATCH_NOTIFY_TOKEN is set "
    "(and recognize is given the same token)"
)


@cache
def _say_notify_token_missing() -> None:
    """Once per instance: every alert is refused until the operator sets the token."""
    log.error("%s", NO_NOTIFY_TOKEN)


def notify(
    services: Services, *, body: UnreadBody | Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Reply:
    """An alert from recognize. Over HTTP (a body not read yet) it must carry notify's
    bearer token, checked before the body is read, and without one configured none is
    taken (503: an open notify would send any alert); Lambda's asynchronous invoke (a
    decoded event) is authorized by IAM. Either way the alert may show only its own
    household's frame, in this deployment's bucket."""
    from facewatch.alerts.alert_scope import check_alert_scope
    from facewatch.alerts.delivery import deliver
    from facewatch.web.observed import delivered

    if isinstance(body, UnreadBody):
        if services.settings.notify_token is None:
            _say_notify_token_missing()
            return Reply(503, {"error": "NotConfigured", "message": NO_NOTIFY_TOKEN})
        require_bearer(headers or {}, services.settings.notify_token)
        alert = Alert.parse(body.read(ALERT_BYTES))
    else:
        alert = Alert.parse(body)
    alert = check_alert_scope(alert, services.storage.bucket)
    set_request_id(alert.frame_key)
    delivery = deliver(alert, storage=services.storage, mail=services.mail, settings=services.settings)
    delivered(alert, delivery)
    # 202: not delivered yet, but kept safe as a dead letter; the sender need not retry.
    status = 202 if delivery.status is DeliveryStatus.DEAD_LETTERED else 200
    # `delivered` is for people and logs; recognize reads `channels` (alerts/handover.py).
    body_out = {"alert_id": alert.alert_id, "delivered": str(delivery), **delivery.model_dump(mode="json")}
    return Reply(status, body_out)


def lambda_http_parts(event: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], UnreadBody]:
    """Headers, query parameters and body of a Lambda Function URL / API Gateway event (its
    size capped by them; the function's own limit applies as it is read)."""
    headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    params = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise BadInput("body is not valid base64") from exc
    else:
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
    return headers, params, UnreadBody.of(body)


def lambda_http_reply(reply: Reply) -> dict[str, Any]:
    import json

    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": "application/json", **reply.headers},
        "body": json.dumps(reply.body),
    }
