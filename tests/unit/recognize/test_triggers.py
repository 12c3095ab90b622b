"""The one event parser, over a payload of every trigger shape."""

import json
from dataclasses import replace

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from facewatch.exceptions import BadEvent
from facewatch.recognize.triggers import parse_event
from tests.conftest import EVENTS

FRAME = "households/home/frames/front-door/20261125/140312000005-1b6c52bf41e0.jpg"
EXPECTED = {
    "s3_put": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "s3")],
    "s3_put_known_photo_space": [
        (
            "created",
            "facewatch",
            "households/home/known/Lin-Manuel Miranda/photo+1.jpg",
            "9dd4e461268c8034f5c8564e155c67a6",
            "s3",
        )
    ],
    "s3_delete": [("removed", "facewatch", "households/home/known/obama/obama.jpg", None, "s3")],
    "s3_test_event": [],
    "s3_sqs_envelope": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "s3")],
    "s3_sns_envelope": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "s3")],
    "s3_sns_http_notification": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "s3")],
    "s3_sns_sqs_envelope": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "s3")],
    "eventbridge_object_created": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "s3")],
    "gcs_finalized_structured": [("created", "facewatch", FRAME, "CNiBoNGBp4kDEAE=", "cloudevent")],
    "minio_put": [("created", "facewatch", FRAME, "9dd4e461268c8034f5c8564e155c67a6", "minio")],
    "minio_delete": [("removed", "facewatch", "households/home/known/obama/obama.jpg", None, "minio")],
    "seaweedfs_webhook_create_captured": [
        ("created", "facewatch", FRAME, "9777715abb85d81db190cab0857507a8", "seaweedfs")
    ],
    "seaweedfs_webhook_delete_captured": [
        (
            "removed",
            "facewatch",
            "households/home/known/obama/obama.jpg",
            "1bee11bec6fa8a197b379c7496aad1ec",
            "seaweedfs",
        )
    ],
}
FILES = sorted(EVENTS.glob("*.json"))


def summary(events):
    return [(e.kind, e.bucket, e.key, e.etag, e.trigger) for e in events]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_real_payload_parses_from_bytes_and_from_a_dict(path):
    body = path.read_bytes()
    from_bytes = parse_event(body, {"Content-Type": "application/json"})
    assert from_bytes == parse_event(json.loads(body))  # as Lambda passes it
    if path.stem in EXPECTED:
        assert summary(from_bytes) == EXPECTED[path.stem]


def test_every_shape_has_a_payload_file():
    assert set(EXPECTED) <= {p.stem for p in FILES}


def test_idempotency_key_is_stable_and_names_the_bytes():
    [event] = parse_event((EVENTS / "s3_put.json").read_bytes())
    assert event.idempotency_key == f"facewatch/{FRAME}@9dd4e461268c8034f5c8564e155c67a6"
    # Another version of the same bytes (a retried PUT on a versioned bucket) is the same upload.
    assert replace(event, version_id="another-version").idempotency_key == event.idempotency_key
    assert replace(event, etag=None).idempotency_key == f"facewatch/{FRAME}@096fKKXTRTtl3on89fVO.nfljtsv6qko"
    assert event.size == 48213
    assert event.event_time.isoformat() == "2026-11-25T03:17:24.955000+00:00"


def gcs_event():
    payload = json.loads((EVENTS / "gcs_finalized_structured.json").read_text())
    attributes = {k: v for k, v in payload.items() if k != "data"}
    return CloudEvent(attributes, payload["data"])


def test_cloudevents_in_binary_and_structured_mode_and_as_objects():
    event = gcs_event()
    headers, body = to_binary(event)
    assert summary(parse_event(body, headers)) == EXPECTED["gcs_finalized_structured"]
    headers, body = to_structured(event)
    assert summary(parse_event(body, headers)) == EXPECTED["gcs_finalized_structured"]
    assert summary(parse_event(event)) == EXPECTED["gcs_finalized_structured"]
    assert parse_event(event)[0].version_id == "1732504644955000"


def test_a_deleted_cloudevent_is_a_removal_and_other_storage_types_are_skipped():
    event = gcs_event()
    event["type"] = "google.cloud.storage.object.v1.deleted"
    assert parse_event(event)[0].kind == "removed"
    event["type"] = "google.cloud.storage.object.v1.metadataUpdated"
    assert parse_event(event) == []


def test_events_other_than_create_and_remove_are_skipped():
    payload = json.loads((EVENTS / "s3_put.json").read_text())
    payload["Records"][0]["eventName"] = "ObjectAccessed:Get"
    assert parse_event(payload) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty event body"),
        (b"{not json", "not JSON"),
        (b"[]", "expected an object"),
        (b'{"hello": 1}', "unknown event shape"),
        (
            b'{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}',
            "s3.bucket",
        ),
        (
            b'{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": '
            b'{"bucket": {"name": "b"}, "object": {"key": 5}}}]}',
            "key must be a string",
        ),
        (
            b'{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": '
            b'{"bucket": {"name": "b"}, "object": {"key": "a/../../etc"}}}]}',
            "unsafe object key",
        ),
        (
            b'{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": '
            b'{"bucket": {"name": "b"}, "object": {"key": "%2Fetc%2Fpasswd"}}}]}',
            "unsafe object key",
        ),
        (
            b'{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": '
            b'{"bucket": {"name": "b"}, "object": {"key": "k", "size": [1]}}}]}',
            "size must be a number",
        ),
        (b"x" * (1024 * 1024 + 1), "over the limit"),
    ],
)
def test_malformed_events_say_what_is_wrong(body, message):
    with pytest.raises(BadEvent, match=message):
        parse_event(body)


def test_binary_cloudevent_with_bad_body_is_a_bad_event():
    with pytest.raises(BadEvent):
        parse_event(
            b"{",
            {
                "ce-type": "google.cloud.storage.object.v1.finalized",
                "ce-specversion": "1.0",
                "ce-source": "s",
                "ce-id": "1",
                "content-type": "application/json",
            },
        )


def test_seaweedfs_overwrite_rename_and_its_own_buckets():
    created = json.loads((EVENTS / "seaweedfs_webhook_create_captured.json").read_text())
    overwrite = json.loads(json.dumps(created))
    overwrite["event_type"] = "update"
    overwrite["message"]["old_entry"] = overwrite["message"]["new_entry"]
    assert [e.kind for e in parse_event(overwrite)] == ["created"]  # a new upload of the key
    rename = json.loads(json.dumps(overwrite))
    rename["event_type"] = "rename"
    rename["directory"] = "/buckets/facewatch/households/home/known/obama"
    rename["message"]["old_entry"] = {**rename["message"]["old_entry"], "name": "old.jpg"}
    assert [(e.kind, e.key.rsplit("/", 1)[1]) for e in parse_event(rename)] == [
        ("removed", "old.jpg"),
        ("created", "140312000005-1b6c52bf41e0.jpg"),
    ]
    system = json.loads(json.dumps(created))
    system["key"] = "/buckets/.system/owners/facewatch"
    assert parse_event(system) == []


def test_a_seaweedfs_time_out_of_range_is_a_bad_event_not_a_crash():
    payload = json.loads((EVENTS / "seaweedfs_webhook_create_captured.json").read_text())
    for mtime in (10**20, -(10**13)):
        payload["message"]["new_entry"]["attributes"]["mtime"] = mtime
        with pytest.raises(BadEvent, match="malformed event"):
            parse_event(json.dumps(payload).encode())
