"""recognize's stores keep the state books they wrote last and change them without reading
them first (store/json_state.py): the kept copy must never win over another writer's newer
version, must not be left altered by a change that failed, and must save the read when this
process was the last writer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from facewatch.exceptions import StorageError
from facewatch.recognize.visit_store import VisitStore
from facewatch.recognize.visits import Sighting, VisitPolicy
from facewatch.store.json_state import GUESS_PAUSE
from facewatch.store.storage import Storage, StoredObject

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 25, 3, 17, tzinfo=UTC)


class Counting(Storage):
    """Storage that counts its reads and can fail the next write."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(storage.client, storage.bucket)
        self.reads = 0
        self.fail_next_put = False

    def get(self, key: str) -> StoredObject:
        self.reads += 1
        return super().get(key)

    def put(self, key: str, body: bytes, **kwargs: object) -> str:
        if self.fail_next_put:
            self.fail_next_put = False
            raise StorageError("storage unreachable (injected)")
        return super().put(key, body, **kwargs)  # type: ignore[arg-type]


def sighting(camera: str, i: int) -> tuple[Sighting, str, str]:
    key = f"households/h/frames/{camera}/20261125/{i:012d}-{camera}.jpg"
    return (
        Sighting(key, camera, NOW + timedelta(seconds=i), np.full(128, 0.05)),
        f"v-{camera}-{i}",
        f"a-{camera}-{i}",
    )


def record(store: VisitStore, camera: str, i: int) -> bool:
    [assignment] = store.record("h", [sighting(camera, i)], now=NOW, policy=VisitPolicy())
    return assignment.alert


def stored_frames(storage: Storage) -> int:
    return int(storage.get_json("households/h/state/visits.json")["visits"][0]["frames"])


def test_the_last_writer_changes_its_book_without_reading_it(storage):
    counting = Counting(storage)
    store = VisitStore(counting, keep_bytes=1_000_000)
    assert record(store, "door", 0)  # a new visit alerts
    reads = counting.reads
    for i in range(1, 6):
        assert not record(store, "door", i)
    assert counting.reads == reads  # five changes, no read
    assert stored_frames(storage) == 6


def test_another_writers_version_is_never_overwritten(storage):
    """Two processes (two stores) by turns, and one more writing beside them: the kept
    copies go stale at every turn and every write is still counted once."""
    first = VisitStore(storage, keep_bytes=1_000_000)
    second = VisitStore(storage, keep_bytes=1_000_000)
    alerts = [record(first if i % 2 else second, "door", i) for i in range(12)]
    alerts += [record(VisitStore(storage), "yard", 100 + i) for i in range(3)]
    alerts += [record(first, "door", 200), record(second, "door", 201)]
    assert alerts.count(True) == 1
    assert stored_frames(storage) == 17


def test_concurrent_writers_with_kept_books_lose_no_update(storage):
    stores = [VisitStore(storage, keep_bytes=1_000_000, pause=lambda s: None) for _ in range(3)]
    alerts: list[bool] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                alerts.append(record(stores[n], f"cam{n}", i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert alerts.count(True) == 1
    assert stored_frames(storage) == 24


def test_a_failed_write_leaves_no_altered_copy_kept(storage):
    counting = Counting(storage)
    store = VisitStore(counting, keep_bytes=1_000_000)
    record(store, "door", 0)
    counting.fail_next_put = True
    with pytest.raises(StorageError):
        record(store, "door", 1)
    assert stored_frames(storage) == 1
    record(store, "door", 2)  # read again: the failed sighting is not in the book
    book = storage.get_json("households/h/state/visits.json")
    assert book["visits"][0]["frames"] == 2
    assert not any(k.endswith("000000000001-door.jpg") for k in book["visits"][0]["frame_keys"])


def test_after_a_refused_try_the_next_changes_read_first(storage):
    counting = Counting(storage)
    store = VisitStore(counting, keep_bytes=1_000_000)
    record(store, "door", 0)
    record(VisitStore(storage), "yard", 50)  # another writer: the kept copy is stale
    reads = counting.reads
    record(store, "door", 1)  # refused on the kept copy, then read
    assert counting.reads == reads + 1
    for i in range(GUESS_PAUSE):
        record(store, "door", 2 + i)
    assert counting.reads == reads + 1 + GUESS_PAUSE
    record(store, "door", 100)
    assert counting.reads == reads + 1 + GUESS_PAUSE  # trying the kept copy again
    assert stored_frames(storage) == 3 + GUESS_PAUSE + 1


def test_books_kept_within_their_byte_budget(storage):
    store = VisitStore(storage, keep_bytes=3_000)
    for n in range(10):
        store.record(f"h{n}", [sighting("door", 0)], now=NOW, policy=VisitPolicy())
    assert 0 < len(store._kept) < 10
    assert store._kept_size <= 3_000
    assert VisitStore(storage)._kept == {}  # keeps nothing unless asked
