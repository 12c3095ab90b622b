"""One parser for every trigger shape: whatever delivered the news of an upload, recognize
gets a list of `StorageEvent`s.

Shapes (envelopes are unwrapped first, then the payload is parsed):
- AWS S3 event notifications (`Records[].eventSource == "aws:s3"`), as Lambda gets them,
  also inside SQS (`Records[].body`) and SNS (`Records[].Sns.Message`) envelopes, and in
  the JSON an SNS HTTP(S) subscription receives (`Type: Notification`); the S3 test event
  (`"Event": "s3:TestEvent"`) and SNS's own subscription messages
  (`SubscriptionConfirmation`, `UnsubscribeConfirmation`: `web/sns.py` handles them)
  yield nothing.
- EventBridge "Object Created"/"Object Deleted" events from S3 (`detail-type`, `detail`).
- Storage CloudEvents (`google.cloud.storage.object.v1.finalized` / `.deleted`), as a
  CloudEvent object, or over HTTP in binary (`ce-*` headers) or structured mode.
- MinIO bucket-notification webhooks (`EventName`, `Key`, `Records[]` with `minio:s3`).
- seaweedfs filer webhooks: `{"event_type", "key", "message"}` with the filer's
  `EventNotification` (`old_entry`/`new_entry`/`new_parent_path`) as `message`. `key` is
  the entry's old path (its only path for a create), the new one is `new_parent_path` +
  `new_entry.name`; the bucket is the first path component under `/buckets/`.

Anything else, or any of these with a missing or mistyped field, is a BadEvent that says
what was wrong and where; no other exception escapes for any input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from facewatch.exceptions import BadEvent

MAX_EVENT_BYTES = 1024 * 1024
Kind = Literal["created", "removed"]
Trigger = Literal["s3", "cloudevent", "minio", "seaweedfs"]
_GCS = "google.cloud.storage.object.v1."


@dataclass(frozen=True, slots=True)
class StorageEvent:
    kind: Kind
    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    size: int | None = None
    event_time: datetime | None = None
    trigger: Trigger = "s3"

    @property
    def idempotency_key(self) -> str:
        """Stable across redeliveries of one upload, different for a new upload of the key.
        The ETag (the bytes) comes first: on a versioned bucket the agent's retried PUT of the
        same frame makes a second version of the same bytes, and it must not yield new alert
        ids while the first version's alert is still being handed over (recognize would take
        it as a replay and suppress it, then skip the first as a duplicate: no alert)."""
        return f"{self.bucket}/{self.key}@{self.etag or self.version_id or self.sequencer or ''}"


# --- small typed readers: every field access goes through these ---------------------------


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadEvent(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadEvent(f"{where}: {name} missing")
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{where}: {name} must be a string, got {type(value).__name__}")
    return value


def _int(data: Mapping[str, Any], name: str, where: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadEvent(f"{where}: {name} must be a number, got {type(value).__name__}")
    try:
        return int(value)
    except ValueError as exc:
        raise BadEvent(f"{where}: {name} {value!r} is not a number") from exc


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{where}: time must be a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadEvent(f"{where}: {value!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _key(raw: str, where: str, *, encoded: bool) -> str:
    # S3 and MinIO URL-encode keys in events ('+' for a space; moto even encodes '/').
    # This is the one place a key is decoded.
    key = unquote_plus(raw) if encoded else raw
    if not key:
        raise BadEvent(f"{where}: empty object key")
    if "\x00" in key or key.startswith("/") or any(part in {"..", "."} for part in key.split("/")):
        raise BadEvent(f"{where}: unsafe object key {key!r}")
    return key


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


# --- S3-shaped records (AWS and MinIO) ------------------------------------------------------


def _s3_kind(event_name: str) -> Kind | None:
    name = event_name.removeprefix("s3:")
    if name.startswith("ObjectCreated:"):
        return "created"
    if name.startswith("ObjectRemoved:"):
        return "removed"
    return None  # ObjectAccessed, Replication, LifecycleExpiration...: not ours


def _s3_record(record: Mapping[str, Any], where: str, trigger: Trigger) -> StorageEvent | None:
    kind = _s3_kind(_str(record, "eventName", where) or "")
    s3 = _obj(record.get("s3"), f"{where}: s3")
    bucket = _obj(s3.get("bucket"), f"{where}: s3.bucket")
    obj = _obj(s3.get("object"), f"{where}: s3.object")
    name = _str(bucket, "name", f"{where}: s3.bucket") or ""
    raw_key = _str(obj, "key", f"{where}: s3.object") or ""
    if not name:
        raise BadEvent(f"{where}: s3.bucket.name is empty")
    key = _key(raw_key, f"{where}: s3.object.key", encoded=True)
    if kind is None:
        return None
    return StorageEvent(
        kind=kind,
        bucket=name,
        key=key,
        etag=_etag(_str(obj, "eTag", where, required=False)),
        version_id=_str(obj, "versionId", where, required=False),
        sequencer=_str(obj, "sequencer", where, required=False),
        size=_int(obj, "size", where),
        event_time=_time(record.get("eventTime"), where),
        trigger=trigger,
    )


def _records(payload: Mapping[str, Any], trigger: Trigger, depth: int) -> list[StorageEvent]:
    records = payload.get("Records")
    if not isinstance(records, list):
        raise BadEvent(f"Records must be a list, got {type(records).__name__}")
    events: list[StorageEvent] = []
    for i, item in enumerate(records):
        record = _obj(item, f"record {i}")
        source = record.get("eventSource") or record.get("EventSource")
        if source == "aws:sqs":
            events += _parse_json_text(_str(record, "body", f"SQS record {i}") or "", depth + 1)
        elif source == "aws:sns" or "Sns" in record:
            sns = _obj(record.get("Sns"), f"SNS record {i}: Sns")
            events += _parse_json_text(_str(sns, "Message", f"SNS record {i}") or "", depth + 1)
        elif source in ("aws:s3", "minio:s3") or "s3" in record:
            event = _s3_record(record, f"S3 record {i}", "minio" if source == "minio:s3" else trigger)
            if event is not None:
                events.append(event)
        else:
            raise BadEvent(f"record {i}: unknown eventSource {source!r}")
    return events


# --- other shapes ---------------------------------------------------------------------------


_EVENTBRIDGE_KINDS: dict[str, Kind] = {"Object Created": "created", "Object Deleted": "removed"}
_GCS_KINDS: dict[str, Kind] = {"finalized": "created", "deleted": "removed"}


def _eventbridge(payload: Mapping[str, Any]) -> list[StorageEvent]:
    kind = _EVENTBRIDGE_KINDS.get(str(payload.get("detail-type")))
    if kind is None:
        return []
    detail = _obj(payload.get("detail"), "EventBridge detail")
    bucket = _str(_obj(detail.get("bucket"), "detail.bucket"), "name", "detail.bucket") or ""
    obj = _obj(detail.get("object"), "detail.object")
    return [
        StorageEvent(
            kind=kind,
            bucket=bucket,
            # EventBridge carries the key as stored, not URL-encoded.
            key=_key(_str(obj, "key", "detail.object") or "", "detail.object.key", encoded=False),
            etag=_etag(_str(obj, "etag", "detail.object", required=False)),
            version_id=_str(obj, "version-id", "detail.object", required=False),
            sequencer=_str(obj, "sequencer", "detail.object", required=False),
            size=_int(obj, "size", "detail.object"),
            event_time=_time(payload.get("time"), "EventBridge time"),
        )
    ]


def _gcs(event_type: str, data: Any, time: Any = None) -> list[StorageEvent]:
    if not event_type.startswith(_GCS):
        raise BadEvent(f"CloudEvent type {event_type!r} is not a storage object event")
    suffix = event_type.removeprefix(_GCS)
    kind = _GCS_KINDS.get(suffix)
    if kind is None:
        return []  # metadataUpdated, archived: nothing to judge
    data = _obj(data, "CloudEvent data")
    return [
        StorageEvent(
            kind=kind,
            bucket=_str(data, "bucket", "CloudEvent data") or "",
            key=_key(_str(data, "name", "CloudEvent data") or "", "CloudEvent data.name", encoded=False),
            etag=_etag(_str(data, "etag", "CloudEvent data", required=False)),
            version_id=str(data["generation"]) if data.get("generation") is not None else None,
            size=_int(data, "size", "CloudEvent data"),
            event_time=_time(data.get("timeCreated") or time, "CloudEvent data.timeCreated"),
            trigger="cloudevent",
        )
    ]


def _seaweed_etag(entry: Mapping[str, Any]) -> str | None:
    """The S3 ETag seaweedfs keeps in the entry's extended attributes (base64 of the text)."""
    import base64
    import binascii

    value = _obj(entry.get("extended") or {}, "seaweedfs extended").get("Seaweed-X-Amz-ETag")
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("ascii").strip('"') or None
    except (binascii.Error, UnicodeDecodeError):
        return None


def _seaweed_path(directory: str, entry: Mapping[str, Any], where: str) -> str:
    return f"{directory.rstrip('/')}/{_str(entry, 'name', where)}"


def _seaweedfs(payload: Mapping[str, Any]) -> list[StorageEvent]:
    """A filer event: create, update (an overwrite: a new upload of the key), delete, or
    rename (the old path removed, the new one created).

    The filer names the event by its old path (`key`; weed/filer/filer_notify.go), and sets
    `new_parent_path` whenever there is a new entry, so the new path is always
    `new_parent_path/new_entry.name`. A rename is told from an update by the two paths,
    not by `event_type`: its rule differs between versions (some label every event with
    both entries and a new_parent_path, an overwrite too, a rename; 4.48 does not)."""
    message = _obj(payload.get("message", payload.get("event", payload)), "seaweedfs message")
    old = _obj(message["old_entry"], "seaweedfs old_entry") if message.get("old_entry") else None
    new = _obj(message["new_entry"], "seaweedfs new_entry") if message.get("new_entry") else None
    if old is None and new is None:
        raise BadEvent("seaweedfs message: neither old_entry nor new_entry")
    old_path = _str(payload, "key", "seaweedfs", required=False)
    if old_path is None:  # a SubscribeMetadataResponse-like shape: the directory, not the path
        directory = _str(payload, "directory", "seaweedfs", required=False)
        if directory is None and new is not None:
            directory = _str(message, "new_parent_path", "seaweedfs message")
        if directory is None:
            raise BadEvent("seaweedfs: key missing (the path of the entry)")
        old_path = _seaweed_path(directory, old or new or {}, "seaweedfs entry")
    if new is None:
        return _seaweed_entry(old_path, old or {}, "removed", payload)
    new_parent = _str(message, "new_parent_path", "seaweedfs message", required=False)
    new_path = _seaweed_path(new_parent, new, "seaweedfs new_entry") if new_parent else old_path
    if old is None or new_path == old_path:
        return _seaweed_entry(new_path, new, "created", payload)
    return _seaweed_entry(old_path, old, "removed", payload) + _seaweed_entry(
        new_path, new, "created", payload
    )


def _seaweed_entry(
    path: str, entry: Mapping[str, Any], kind: Kind, payload: Mapping[str, Any]
) -> list[StorageEvent]:
    if entry.get("is_directory"):
        return []
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "buckets" or parts[2].startswith("."):
        return []  # a filer path outside the S3 buckets, or seaweedfs' own (.system)
    attributes = _obj(entry.get("attributes") or {}, "seaweedfs attributes")
    mtime = attributes.get("mtime")
    return [
        StorageEvent(
            kind=kind,
            bucket=parts[2],
            key=_key("/".join(parts[3:]), "seaweedfs path", encoded=False),
            etag=_seaweed_etag(entry),
            size=_int(attributes, "file_size", "seaweedfs attributes"),
            sequencer=str(payload.get("ts_ns") or mtime or "") or None,
            event_time=datetime.fromtimestamp(int(mtime), UTC) if isinstance(mtime, int) else None,
            trigger="seaweedfs",
        )
    ]


# --- dispatch --------------------------------------------------------------------------------

_SNS_SUBSCRIPTION_TYPES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")


def _is_seaweedfs(data: Mapping[str, Any]) -> bool:
    """A filer EventNotification, bare or as a webhook's `message`: not any body that
    happens to have a `message` field (chat and alerting webhooks do too)."""
    entries = ("old_entry", "new_entry")
    message = data.get("message", data.get("event"))
    return any(k in data for k in entries) or (
        isinstance(message, Mapping) and any(k in message for k in entries)
    )


def _sns_notification(data: Mapping[str, Any], depth: int) -> list[StorageEvent]:
    """The storage event an SNS notification carries as its `Message` text; a topic that
    publishes something else is told so, with the topic named."""
    where = f"SNS notification from {data.get('TopicArn')!r}"
    text = _str(data, "Message", where) or ""
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise BadEvent(f"{where}: not a storage event: its Message is text, not JSON") from exc
    try:
        return _parse_payload(payload, depth + 1)
    except BadEvent as exc:
        raise BadEvent(f"{where}: {exc}") from exc


def _parse_payload(payload: Any, depth: int = 0) -> list[StorageEvent]:
    if depth > 3:
        raise BadEvent("envelopes nested too deeply")
    data = _obj(payload, "event")
    if data.get("Event") == "s3:TestEvent":
        return []
    if "Records" in data:
        return _records(data, "s3", depth)
    if data.get("Type") == "Notification" and "Message" in data:
        # SNS as an HTTP subscription or an SQS queue receives it (raw delivery off)
        return _sns_notification(data, depth)
    if data.get("Type") in _SNS_SUBSCRIPTION_TYPES and "TopicArn" in data:
        return []  # SNS about the subscription itself: web/sns.py confirms it
    if "detail-type" in data and data.get("source") == "aws.s3":
        return _eventbridge(data)
    if "specversion" in data and "type" in data:
        return _gcs(str(data["type"]), data.get("data"), data.get("time"))
    if "EventName" in data:  # MinIO without Records is not something it sends
        raise BadEvent("MinIO event without Records")
    if _is_seaweedfs(data):
        return _seaweedfs(data)
    fields = ", ".join(sorted(map(str, data))[:8]) or "none"
    raise BadEvent(
        f"not a storage event: unknown event shape (fields: {fields}); recognize takes S3, SQS, SNS, "
        "EventBridge, storage CloudEvent, MinIO and seaweedfs notifications"
    )


def _parse_json_text(text: str | bytes, depth: int = 0) -> list[StorageEvent]:
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent(f"event body is not JSON: {exc}") from exc
    return _parse_payload(payload, depth)


def _from_http(body: bytes, headers: Mapping[str, str]) -> list[StorageEvent]:
    lowered = {k.lower(): v for k, v in headers.items()}
    if "ce-type" in lowered:  # binary-mode CloudEvent: the attributes are headers
        from cloudevents.http import from_http

        try:
            event = from_http(dict(headers), body)
        except Exception as exc:  # the library raises several types for bad input
            raise BadEvent(f"malformed CloudEvent: {exc}") from exc
        return _gcs(str(event["type"]), event.data, event.get("time"))
    return _parse_json_text(body)


def parse_event(body: Any, headers: Mapping[str, str] | None = None) -> list[StorageEvent]:
    """Every storage event in a trigger payload: raw HTTP body (+ headers), a decoded JSON
    value (as Lambda passes it), or a CloudEvent object (functions-framework)."""
    try:
        if hasattr(body, "get_attributes") and hasattr(body, "data"):
            return _gcs(str(body["type"]), body.data, body.get("time"))
        if isinstance(body, (bytes, bytearray, str)):
            raw = body.encode() if isinstance(body, str) else bytes(body)
            if len(raw) > MAX_EVENT_BYTES:
                raise BadEvent(f"event body of {len(raw)} bytes is over the limit of {MAX_EVENT_BYTES}")
            if not raw.strip():
                raise BadEvent("empty event body")
            return _from_http(raw, headers or {})
        return _parse_payload(body)
    except BadEvent:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError, OverflowError, OSError) as exc:
        raise BadEvent(f"malformed event: {type(exc).__name__}: {exc}") from exc
