"""Enrolling known people and keeping their encodings fresh, on a real S3 server."""

import numpy as np
import pytest

from facewatch.exceptions import BadImage, ObjectMissing, StorageError
from facewatch.layout import encodings_key, known_prefix
from facewatch.recognize.known import GalleryCache, enroll, load_gallery
from tests.conftest import TESTDATA

pytestmark = pytest.mark.integration
KNOWN = TESTDATA / "known"


def photos(person):
    return [(p.name, p.read_bytes()) for p in sorted((KNOWN / person).iterdir())]


def test_enroll_uploads_photos_and_writes_one_encodings_object(storage):
    gallery = enroll(storage, "home", "obama", photos("obama"), 40_000_000)
    assert gallery.names == ["obama", "obama"]
    assert sorted(storage.list_keys(known_prefix("home"))) == [
        "households/home/known/obama/obama.jpg",
        "households/home/known/obama/obama2.jpg",
    ]
    stored, _ = load_gallery(storage, "home")
    assert np.array_equal(stored.encodings, gallery.encodings)
    # The two photos are of one man: close together.
    assert np.linalg.norm(stored.encodings[0] - stored.encodings[1]) < 0.6


def test_enroll_is_incremental_and_per_household(storage):
    enroll(storage, "home", "obama", photos("obama"), 40_000_000)
    g = enroll(storage, "home", "biden", photos("biden"), 40_000_000)
    assert g.people == ["biden", "obama"]
    other = enroll(storage, "shop", "biden", photos("biden"), 40_000_000)
    assert other.people == ["biden"]


def test_a_bad_photo_leaves_the_bucket_unchanged(storage):
    with pytest.raises(BadImage):
        enroll(storage, "home", "obama", [*photos("obama"), ("x.jpg", b"not an image")], 40_000_000)
    assert list(storage.list_keys("households/home/")) == []


def test_cache_picks_up_a_new_enrollment_by_etag(storage):
    now = [0.0]
    cache = GalleryCache(storage, check_seconds=30, clock=lambda: now[0])
    with pytest.raises(ObjectMissing):
        cache.get("home")
    enroll(storage, "home", "obama", photos("obama"), 40_000_000)
    first, etag1 = cache.get("home")
    assert first.people == ["obama"]
    enroll(storage, "home", "biden", photos("biden"), 40_000_000)
    assert cache.get("home")[0].people == ["obama"]  # still within the check interval
    now[0] = 31.0
    second, etag2 = cache.get("home")
    assert second.people == ["biden", "obama"]
    assert etag2 != etag1
    assert storage.etag(encodings_key("home")) == etag2


def test_a_failed_check_keeps_the_cached_known_set_rather_than_judging_without_it(storage, monkeypatch):
    now = [0.0]
    cache = GalleryCache(storage, check_seconds=30, clock=lambda: now[0])
    enroll(storage, "home", "obama", photos("obama"), 40_000_000)
    cached, etag = cache.get("home")

    def unreachable(key):
        raise StorageError(f"{key}: connection reset")

    monkeypatch.setattr(storage, "etag", unreachable)
    now[0] = 31.0
    assert cache.get("home") == (cached, etag)
    monkeypatch.undo()
    enroll(storage, "home", "biden", photos("biden"), 40_000_000)
    assert cache.get("home")[0].people == ["biden", "obama"]  # checked again on the next call


def test_a_rebuild_from_a_stale_listing_cannot_overwrite_a_newer_one(storage, monkeypatch):
    """recognize rebuilds on each known-photo event; one that listed the photos before the
    last upload must not replace the encodings written after it."""
    import facewatch.recognize.known as gallery_module

    enroll(storage, "home", "biden", photos("biden"), 40_000_000)
    real = gallery_module._encode_photos
    calls = []

    def slow_stale_encode(*args, **kwargs):
        result = real(*args, **kwargs)
        if not calls:  # the first attempt: meanwhile someone enrolls obama
            calls.append(1)
            monkeypatch.setattr(gallery_module, "_encode_photos", real)
            enroll(storage, "home", "obama", photos("obama"), 40_000_000)
            monkeypatch.setattr(gallery_module, "_encode_photos", slow_stale_encode)
        return result

    monkeypatch.setattr(gallery_module, "_encode_photos", slow_stale_encode)
    from facewatch.recognize.known import rebuild_gallery

    rebuilt = rebuild_gallery(storage, "home", 40_000_000)
    assert rebuilt.people == ["biden", "obama"]
    assert load_gallery(storage, "home")[0].people == ["biden", "obama"]
