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
    # A rename: the old object's removal (from `key`) and the new one's creation (from
    # message.new_parent_path + new_entry.name), the same bytes under both.
    "seaweedfs_webhook_rename_captured": [
        (
            "removed",
            "facewatch",
            "households/home/known/obama/obama.jpg",
            "1bee11bec6fa8a197b379c7496aad1ec",
            "seaweedfs",
        ),
        (
            "created",
            "facewatch",
            "households/home/known/barack/obama-portrait.jpg",
            "1bee11bec6fa8a197b379c7496aad1ec",
            "seaweedfs",
        ),
    ],
    "seaweedfs_webhook_rename_directory_captured": [],  # each file in it comes as its own rename
    "sns_subscription_confirmation": [],  # SNS about the subscription: web/sns.py answers it
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


def seaweedfs(name):
    return json.loads((EVENTS / f"seaweedfs_webhook_{name}_captured.json").read_text())


def test_seaweedfs_overwrite_is_one_new_upload_and_its_own_buckets_are_skipped():
    overwrite = seaweedfs("create")
    overwrite["event_type"] = "update"  # what weed 4.48 sends for an S3 PUT over an existing key
    overwrite["message"]["old_entry"] = overwrite["message"]["new_entry"]
    assert [e.kind for e in parse_event(overwrite)] == ["created"]  # a new upload of the key
    system = seaweedfs("create")
    system["key"] = "/buckets/.system/owners/facewatch"
    system["message"]["new_parent_path"] = "/buckets/.system/owners"
    system["message"]["new_entry"]["name"] = "facewatch"
    assert parse_event(system) == []


def test_a_seaweedfs_rename_removes_the_old_path_whatever_event_type_says():
    rename = seaweedfs("rename")
    assert "directory" not in rename  # the webhook never sends one: the old path is `key`
    expected = [(e.kind, e.key) for e in parse_event(rename)]
    assert expected == [
        ("removed", "households/home/known/obama/obama.jpg"),
        ("created", "households/home/known/barack/obama-portrait.jpg"),
    ]
    # The two paths tell a rename from an update, not the label (other senders leave it out).
    del rename["event_type"]
    assert [(e.kind, e.key) for e in parse_event(rename)] == expected
    # Within one folder, only the name changes.
    same_folder = seaweedfs("rename")
    same_folder["message"]["new_parent_path"] = "/buckets/facewatch/households/home/known/obama"
    assert [(e.kind, e.key) for e in parse_event(same_folder)] == [
        ("removed", "households/home/known/obama/obama.jpg"),
        ("created", "households/home/known/obama/obama-portrait.jpg"),
    ]


def test_a_seaweedfs_rename_out_of_the_buckets_is_a_removal_only():
    moved_out = seaweedfs("rename")
    moved_out["message"]["new_parent_path"] = "/archive/2026"
    assert [(e.kind, e.key) for e in parse_event(moved_out)] == [
        ("removed", "households/home/known/obama/obama.jpg")
    ]


def test_a_seaweedfs_event_without_its_path_or_entries_says_so():
    no_key = seaweedfs("delete")
    del no_key["key"]
    with pytest.raises(BadEvent, match="seaweedfs: key missing"):
        parse_event(no_key)
    no_entries = seaweedfs("delete")
    no_entries["message"] = {"old_entry": None, "delete_chunks": True}
    with pytest.raises(BadEvent, match="neither old_entry nor new_entry"):
        parse_event(no_entries)


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Backup finished"},
        {"message": {"text": "disk 93% full", "severity": "warning"}},
        {"event": {"type": "push"}, "message": "hello"},
    ],
    ids=["text", "object", "with-event"],
)
def test_a_generic_message_is_refused_as_not_a_storage_event(body):
    with pytest.raises(BadEvent, match="not a storage event") as refused:
        parse_event(json.dumps(body).encode())
    assert "seaweedfs message" not in str(refused.value)
    assert "fields: " in str(refused.value)


def test_an_sns_notification_of_something_else_says_its_message_is_not_a_storage_event():
    payload = json.loads((EVENTS / "s3_sns_http_notification.json").read_text())
    for message in ("Hello world!", json.dumps({"alarm": "CPU high"})):
        payload["Message"] = message
        with pytest.raises(BadEvent, match=r"SNS notification from 'arn:aws:sns:.*not a storage event"):
            parse_event(payload)


def test_a_seaweedfs_time_out_of_range_is_a_bad_event_not_a_crash():
    payload = json.loads((EVENTS / "seaweedfs_webhook_create_captured.json").read_text())
    for mtime in (10**20, -(10**13)):
        payload["message"]["new_entry"]["attributes"]["mtime"] = mtime
        with pytest.raises(BadEvent, match="malformed event"):
            parse_event(json.dumps(payload).encode())
