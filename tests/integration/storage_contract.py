"""The storage layer's contract: tests that any S3 server facewatch runs on must pass. A test
module takes them in as its own with `globals().update(contract_tests())`, and they run there
with that module's `storage` and `s3_client` fixtures: moto's in test_storage.py, seaweedfs's
in test_seaweedfs.py, so the very same assertions hold on both servers."""

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from facewatch.exceptions import BucketMissing, ObjectMissing, StorageError, WriteConflict
from facewatch.store.storage import Storage


def test_put_get_keeps_bytes_metadata_and_etag(storage):
    etag = storage.put("households/h/x.bin", b"\x00\x01", metadata={"fw-camera": "door"})
    obj = storage.get("households/h/x.bin")
    assert obj.body == b"\x00\x01"
    assert obj.etag == etag
    assert obj.metadata == {"fw-camera": "door"}
    assert storage.etag("households/h/x.bin") == etag
    assert storage.etag("households/h/none") is None


def test_list_keys_pages_through_a_prefix(storage):
    for i in range(5):
        storage.put(f"households/h/k{i}", b"x")
    storage.put("households/other/k", b"x")
    assert sorted(storage.list_keys("households/h/")) == [f"households/h/k{i}" for i in range(5)]


def test_a_missing_object_is_object_missing(storage):
    with pytest.raises(ObjectMissing, match="does not exist"):
        storage.get("households/h/nothing.jpg")


def test_a_missing_bucket_is_bucket_missing(s3_client):
    store = Storage(s3_client, f"fw-absent-{uuid.uuid4().hex[:8]}")
    with pytest.raises(BucketMissing, match="does not exist"):
        store.check_bucket()
    with pytest.raises(BucketMissing):
        store.get("households/h/x.jpg")


def test_conditional_put_refuses_to_overwrite(storage):
    storage.put("households/h/once", b"1", if_none_match=True)
    with pytest.raises(WriteConflict):
        storage.put("households/h/once", b"2", if_none_match=True)
    assert storage.get("households/h/once").body == b"1"


def test_compare_and_swap_by_etag(storage):
    first = storage.put("households/h/state", b"1")
    second = storage.put("households/h/state", b"2", if_match=first)
    with pytest.raises(WriteConflict):
        storage.put("households/h/state", b"3", if_match=first)
    assert storage.get("households/h/state").body == b"2"
    assert storage.etag("households/h/state") == second


def test_swap_loses_no_update_under_concurrent_writers(storage):
    import json

    def increment(_: int) -> int:
        def change(obj):
            count = 0 if obj is None else json.loads(obj.body)["count"]
            return json.dumps({"count": count + 1}).encode(), count + 1

        return storage.swap("counter.json", change, content_type="application/json", attempts=200)

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(increment, range(40)))
    assert json.loads(storage.get("counter.json").body) == {"count": 40}
    assert sorted(seen) == list(range(1, 41))  # each writer's result is the value it wrote


def test_swap_with_nothing_to_change_writes_nothing(storage):
    etag = storage.put("doc.json", b"{}")
    assert storage.swap("doc.json", lambda obj: (None, "unchanged"), content_type="application/json") == (
        "unchanged"
    )
    assert storage.etag("doc.json") == etag


def test_swap_gives_up_with_a_clear_error_when_it_never_wins(storage):
    rivals = iter(range(100))

    def change(obj):
        # Another writer replaces the object after every read (with new bytes: an ETag is
        # the content's hash, so the same bytes would not count as a change).
        storage.put("busy.json", b"someone else was quicker %d" % next(rivals))
        return b"mine", None

    with pytest.raises(StorageError, match="changed by others 3 times"):
        storage.swap("busy.json", change, content_type="application/json", attempts=3, pause=lambda s: None)


def contract_tests() -> dict[str, Callable[..., None]]:
    """The contract's tests by name."""
    return {name: test for name, test in globals().items() if name.startswith("test_")}
