"""The sweep finds recent frames without a result, and sends recognize the very event
their upload sends (with the ETag, so alert ids are the same)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from facewatch.layout import FrameKey
from facewatch.local.up.sweep import storage_event, unjudged_frames
from facewatch.recognize.triggers import parse_event

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class ListingOnly:
    """As much of Storage as the sweep's listing uses."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.keys if k.startswith(prefix)))


def frame(at: datetime, household: str = "home") -> FrameKey:
    return FrameKey.new(household, "door", at)


def test_recent_frames_without_a_result_are_found():
    judged = frame(NOW - timedelta(minutes=5))
    unjudged = frame(NOW - timedelta(minutes=4))
    yesterday = frame(NOW - timedelta(days=1))
    too_old = frame(NOW - timedelta(days=3))
    too_new = frame(NOW - timedelta(seconds=5))  # its own event may still be on the way
    elsewhere = frame(NOW - timedelta(minutes=4), household="cabin")
    keys = [str(k) for k in (judged, unjudged, yesterday, too_old, too_new, elsewhere)]
    keys += [judged.result_key, "households/home/frames/door/notaday/x.jpg"]
    found = list(unjudged_frames(ListingOnly(keys), ["home"], NOW))  # type: ignore[arg-type]
    assert sorted(map(str, found)) == sorted([str(unjudged), str(yesterday)])


def test_the_event_is_the_one_an_upload_sends():
    key = frame(NOW)
    (event,) = parse_event(storage_event("facewatch", str(key), '"abc123"'))
    assert (event.kind, event.bucket, event.key, event.etag) == ("created", "facewatch", str(key), "abc123")
