"""The stranger memory's layout against a real S3 server (recognize/stranger_store.py): a
memory an older facewatch kept as one object is moved into shards once, with nothing
forgotten; two recognize instances placing faces at once lose no update; a sighting that
adds nothing but a sighting rewrites one shard, not the memory."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facewatch.layout import stranger_memory_prefix, strangers_key
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.recognizer import BOOK_KEEP_BYTES
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import NewSighting, StrangerBook, StrangerSighting
from facewatch.store.storage import Storage

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "state" / "strangers-v1.json"
"""Written by the facewatch before shards (the one-object memory, three strangers, one seen
on two days and alerted): tests/state/README.md says how."""
T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)
MEMORY = timedelta(days=30)
POLICY = MatchPolicy(threshold=0.5)


def sighting(n: int, encoding: np.ndarray, at: datetime = T0, visit: str | None = None) -> NewSighting:
    verdict = f"households/home/frames/door/{at:%Y%m%d}/{at:%H%M%S}{n:06d}-{n:08x}.jpg#0"
    seen = StrangerSighting(verdict, verdict.split("#")[0], "door", at, (10, 10, 80, 80))
    return NewSighting("home", seen, encoding, visit, 80, 100.0)


def person(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return 0.5 * v / np.linalg.norm(v)


def place(store: StrangerStore, new: NewSighting, now: datetime = T0) -> Any:
    (recall,) = store.record("home", [new], now=now, policy=POLICY, memory=MEMORY, crop=lambda _: b"jpeg")
    return recall


def stored_keys(storage: Storage) -> set[str]:
    return set(storage.list_keys(stranger_memory_prefix("home")))


def test_a_memory_an_older_facewatch_kept_in_one_object_is_moved_once_and_nothing_is_forgotten(storage):
    storage.put(strangers_key("home"), FIXTURE.read_bytes(), content_type="application/json")
    old = StrangerBook.from_dict(json.loads(FIXTURE.read_bytes()))
    store = StrangerStore(storage, keep_bytes=BOOK_KEEP_BYTES)
    assert sorted(store.load("home")[0].strangers, key=lambda s: s.stranger_id) == sorted(
        old.strangers, key=lambda s: s.stranger_id
    )
    assert stored_keys(storage) == set()  # reading moves nothing

    # A redelivered frame of the old memory, the first change: the same answer, nothing
    # changed, and the memory moved.
    alerted = next(s for s in old.strangers if s.alerted_visit)
    seen = alerted.recent[-1]
    replay = place(store, NewSighting("home", seen, np.zeros(128), None, 80, 100.0))
    assert replay.reason == "replay of a remembered sighting" and replay.stranger == alerted
    assert len(stored_keys(storage)) == 1 + len(StrangerBook(old.strangers).shards())

    new = place(StrangerStore(storage), sighting(1, person(99)))
    assert new.first_time
    moved = StrangerStore(storage).load("home")[0]
    assert {s.stranger_id: s for s in moved.strangers} == {
        **{s.stranger_id: s for s in old.strangers},
        new.stranger.stranger_id: new.stranger,
    }
    # Moved once: the old object is never read again, whatever becomes of it.
    storage.put(strangers_key("home"), b"{not json")
    assert len(StrangerStore(storage).load("home")[0].strangers) == 4
    # A new visit 3 hours after the alert the old memory recorded: held back, it is known still.
    assert store.claim_alert(
        "home", alerted.stranger_id, "visit-2-0", now=T0, once_per=timedelta(hours=4), no_alerts=()
    )


def test_two_recognize_instances_placing_faces_at_once_lose_no_update(storage):
    """Two stores with their own kept memories (two recognize processes), four threads each;
    every face placed by either is in the memory, sightings of one passer-by add up, and no
    shard version is left that the index does not name or list as retired."""
    first, second = (StrangerStore(storage, keep_bytes=BOOK_KEEP_BYTES) for _ in range(2))
    regular = person(7)
    regular_id = place(first, sighting(0, regular, visit="visit-regular")).stranger.stranger_id
    count = threading.Lock()
    placed: list[str] = []

    def work(n: int) -> None:
        store = first if n % 2 else second
        # Every third a sighting of the regular (their visit, no new pose), else a new face.
        new = sighting(n, regular, visit="visit-regular") if n % 3 == 0 else sighting(n, person(1000 + n))
        recall = place(store, new)
        with count:
            placed.append(recall.stranger.stranger_id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(1, 49)))

    book = StrangerStore(storage).load("home")[0]
    by_id = {s.stranger_id: s for s in book.strangers}
    assert set(placed) <= set(by_id) and len(by_id) == 1 + sum(1 for n in range(1, 49) if n % 3)
    assert by_id[regular_id].sightings == 1 + 16
    index = json.loads(storage.get(f"{stranger_memory_prefix('home')}index.json").body)
    named = {f"{stranger_memory_prefix('home')}index.json", *index["shards"].values(), *index["retired"]}
    assert stored_keys(storage) <= named
    assert len(stored_keys(storage)) < 1 + 32 + 32  # retired versions were deleted as they piled up
    # Each instance sees the other's faces on its next change.
    for store in (first, second):
        assert place(store, sighting(3, regular, visit="visit-regular")).reason == (
            "replay of a remembered sighting"
        )


class CountingStorage(Storage):
    def __init__(self, storage: Storage) -> None:
        super().__init__(storage.client, storage.bucket)
        self.writes: list[int] = []
        self.reads: list[int] = []

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        self.writes.append(len(body))
        return super().put(key, body, **kwargs)

    def get(self, key: str) -> Any:
        obj = super().get(key)
        self.reads.append(len(obj.body))
        return obj


def test_a_sighting_that_adds_no_pose_writes_one_shard_and_the_index_and_reads_nothing(storage):
    counting = CountingStorage(storage)
    store = StrangerStore(counting, keep_bytes=BOOK_KEEP_BYTES)
    crowd = [person(n) for n in range(200)]
    store.record(
        "home",
        [sighting(n, e) for n, e in enumerate(crowd)],
        now=T0,
        policy=POLICY,
        memory=MEMORY,
        crop=lambda _: b"jpeg",
    )
    whole = len(json.dumps(StrangerBook(store.load("home")[0].strangers).to_dict()))
    counting.writes.clear()
    counting.reads.clear()
    recall = place(store, sighting(500, crowd[17] + 0.001, at=T0 + timedelta(minutes=1)))
    assert recall.reason == "seen before" and recall.crop_key is None
    assert counting.reads == [] and len(counting.writes) == 2
    assert sum(counting.writes) < whole / 10
