"""The functions' request handling, independent of how the request arrived
(functions-framework/Flask or AWS Lambda): plain inputs in, a Reply out."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from facewatch.exceptions import BadInput
from facewatch.frames import EARLIEST_CAPTURE
from facewatch.layout import check_id
from facewatch.records import Alert
from facewatch.tokens import household_detect_token
from facewatch.web.services import Services
from facewatch.web.transport import Reply, TooLarge, Unauthorized, require_bearer

if TYPE_CHECKING:
    from facewatch.config import Settings

__all__ = ["Reply", "detect", "lambda_http_parts", "lambda_http_reply", "notify", "recognize"]

log = logging.getLogger(__name__)


def _param(params: Mapping[str, str], headers: Mapping[str, str], name: str) -> str | None:
    if params.get(name):
        return params[name]
    wanted = f"x-facewatch-{name}".replace("_", "-")
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def detect(
    services: Services, *, headers: Mapping[str, str], params: Mapping[str, str], body: bytes
) -> Reply:
    """A camera POSTs one JPEG/PNG frame; a frame with faces is stored exactly as the edge
    agent stores it (which triggers recognition), a frame without is dropped.

    `captured_at` (optional, ISO 8601) is when the frame was taken; a time without a zone
    is taken as UTC, and one before 2000 or over 5 minutes ahead of this clock is refused."""
    from facewatch.edge.posted import store_posted_frame

    settings = services.settings
    household = check_id(_param(params, headers, "household") or "", "household")
    require_bearer(headers, _detect_token(settings, household))
    if len(body) > settings.max_upload_bytes:
        raise TooLarge(f"frame of {len(body)} bytes is over the limit of {settings.max_upload_bytes}")
    camera = check_id(_param(params, headers, "camera") or "", "camera")
    captured_at = _captured_at(_param(params, headers, "captured_at"))
    stored = store_posted_frame(
        services.storage,
        services.detector,
        body,
        household=household,
        camera=camera,
        captured_at=captured_at,
        max_pixels=settings.max_image_pixels,
        jpeg_quality=settings.jpeg_quality,
    )
    if stored.key is None:
        return Reply(200, {"stored": None, "faces": []})
    return Reply(201, {"stored": stored.key, "faces": [b.as_list() for b in stored.boxes]})


def _detect_token(settings: Settings, household: str) -> SecretStr | None:
    """The token this household's cameras must present (Settings.detect_token_scope)."""

    token = settings.detect_token
    if token is None or settings.detect_token_scope == "deployment":
        return token
    return SecretStr(household_detect_token(token.get_secret_value(), household))


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


def recognize(services: Services, *, headers: Mapping[str, str], body: bytes | Mapping[str, Any]) -> Reply:
    """A storage notification (S3 event, CloudEvent, MinIO or seaweedfs webhook, SNS) about
    uploads, or SNS confirming its subscription."""
    from facewatch.recognize.triggers import parse_event
    from facewatch.web.sns import SnsRefused

    if isinstance(body, (bytes, bytearray)):
        # Lambda's S3 trigger arrives as a dict through the Lambda API and needs no check.
        try:
            reply = _authenticate_notification(services, headers, bytes(body))
        except SnsRefused as exc:
            raise Unauthorized(str(exc)) from exc
        if reply is not None:
            return reply
    events = parse_event(body, headers)
    outcomes = [services.recognizer.handle(event).summary() for event in events]
    return Reply(200, {"outcomes": outcomes})


def _authenticate_notification(services: Services, headers: Mapping[str, str], body: bytes) -> Reply | None:
    """Storage servers' webhooks carry the bearer token. SNS cannot send one: its messages
    are taken on their signature, from a topic in FACEWATCH_SNS_TOPIC_ARNS (web/sns.py),
    and its messages about the subscription itself are answered here (the Reply)."""
    from facewatch.web.sns import sns_message

    sns = sns_message(body, headers)
    if sns is None or (sns.type == "Notification" and not services.settings.sns_topic_arns):
        require_bearer(headers, services.settings.webhook_token)
        return None
    if sns.type == "SubscriptionConfirmation":
        return Reply(200, {"confirmed": services.sns.confirm(sns)})
    services.sns.verify(sns)
    if sns.type == "UnsubscribeConfirmation":
        return Reply(200, {"unsubscribed": sns.topic_arn})
    return None


def notify(services: Services, *, body: bytes | Mapping[str, Any]) -> Reply:
    from facewatch.alerts.delivery import deliver

    alert = Alert.parse(body)
    delivery_id = deliver(
        alert, storage=services.storage, channel=services.channel, settings=services.settings
    )
    # 202: not delivered yet, but kept safe as a dead letter; the sender need not retry.
    status = 202 if delivery_id.startswith("dead-lettered") else 200
    return Reply(status, {"alert_id": alert.alert_id, "delivered": delivery_id})


def lambda_http_parts(event: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], bytes]:
    """Headers, query parameters and raw body of a Lambda Function URL / API Gateway event."""
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
    return headers, params, body


def lambda_http_reply(reply: Reply) -> dict[str, Any]:
    import json

    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": "application/json", **reply.headers},
        "body": json.dumps(reply.body),
    }
