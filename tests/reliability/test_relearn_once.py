"""A known photo's event rebuilds the household's encodings only when they do not already
hold that upload (recognizer._relearn): after `facewatch enroll`, which rebuilds itself, the
photos' own events change nothing; a new version of a photo, or the removal of one the
encodings hold, still rebuilds."""

from __future__ import annotations

import pytest

from facewatch.config import Settings
from facewatch.layout import known_photo_key
from facewatch.recognize.known import enroll, load_gallery
from facewatch.recognize.recognizer import Recognizer
from facewatch.recognize.triggers import StorageEvent
from tests.conftest import TESTDATA
from tests.street import Collected

pytestmark = pytest.mark.integration
PHOTOS = sorted((TESTDATA / "known" / "obama").iterdir())


def test_events_of_an_enrollment_rebuild_nothing_and_changes_still_do(storage):
    settings = Settings(bucket=storage.bucket, encodings_check_seconds=0)
    recognizer = Recognizer.from_settings(storage, settings, Collected())
    enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in PHOTOS], 40_000_000)
    _, etag = load_gallery(storage, "home")
    keys = [known_photo_key("home", "obama", p.name) for p in PHOTOS]
    for key in keys:
        event = StorageEvent("created", storage.bucket, key, f'"{storage.etag(key)}"')
        assert recognizer.handle(event).action == "gallery-current"
    assert load_gallery(storage, "home")[1] == etag  # not written again
    # Without an ETag the event cannot be matched to the stored version: rebuild.
    assert recognizer.handle(StorageEvent("created", storage.bucket, keys[0], None)).action == (
        "gallery-rebuilt"
    )
    # A new version of a photo (other bytes) is encoded.
    storage.put(keys[0], PHOTOS[1].read_bytes(), content_type="image/jpeg")
    event = StorageEvent("created", storage.bucket, keys[0], storage.etag(keys[0]))
    assert recognizer.handle(event).action == "gallery-rebuilt"
    # A removal of a photo the encodings hold rebuilds; of one they do not, changes nothing.
    storage.delete(keys[1])
    assert recognizer.handle(StorageEvent("removed", storage.bucket, keys[1], None)).action == (
        "gallery-rebuilt"
    )
    assert keys[1] not in load_gallery(storage, "home")[0].photo_keys
    assert recognizer.handle(StorageEvent("removed", storage.bucket, keys[1], None)).action == (
        "gallery-current"
    )
