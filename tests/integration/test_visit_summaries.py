"""The console's summaries on a real S3 server: recognize's writes keep them; a summary
write that fails loses nothing (the result is written, the day is marked behind and the
visits page says so); `facewatch reindex` rebuilds a summary deleted or damaged, and clears
the mark. The console's pages read summaries only: a handful of requests, whatever the
history."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from facewatch.exceptions import StorageError, WriteConflict
from facewatch.layout import day_index_key, people_index_key
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.store.storage import Storage
from facewatch.web.console.visits_view import person_page, visit_page, visits_page
from tests.conftest import run_cli

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
DAY = "20261205"


def result(n: int, faces: list[dict[str, Any]], camera: str = "door") -> dict[str, Any]:
    at = T0 + timedelta(seconds=n)
    stem = f"{at.strftime('%H%M%S%f')}-{n:012d}"
    return {
        "household": "home",
        "camera": camera,
        "frame_key": f"households/home/frames/{camera}/{DAY}/{stem}.jpg",
        "captured_at": at.isoformat(),
        "processed_at": at.isoformat(),
        "boxes_from": "edge",
        "faces": faces,
    }


def stranger(sent: bool) -> dict[str, Any]:
    alert = {"status": "sent", "detail": "email"}
    if not sent:
        alert = {"status": "suppressed", "detail": "same visit"}
    return {
        "box": {"x": 5, "y": 5, "w": 90, "h": 90},
        "verdict": "stranger",
        "state": "judged",
        "visit_id": "visit-1",
        "stranger_id": "stranger-aa",
        "alert": alert,
    }


def unsure() -> dict[str, Any]:
    return {"box": {"x": 1, "y": 1, "w": 20, "h": 20}, "verdict": "unsure", "state": "judged"}


def write(storage: Storage, store: DayIndexStore, results: list[dict[str, Any]]) -> None:
    """As recognize does: the result first, then its summary."""
    for r in results:
        storage.put_json(r["frame_key"].replace("/frames/", "/results/").rsplit(".", 1)[0] + ".json", r)
        store.record("home", [r])


SCENE = [result(0, [stranger(True)]), result(1, [stranger(False), unsure()]), result(2, [unsure()], "garden")]


class FailingSummaries(Storage):
    """The bucket refuses every write of a day's summary (a fault recognize must survive)."""

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        if key.endswith(f"index/days/{DAY}.json"):
            raise StorageError("s3 is having a moment")
        return super().put(key, body, **kwargs)


def test_summaries_kept_as_results_are_written_show_one_card_per_visit(storage):
    store = DayIndexStore(storage)
    write(storage, store, SCENE)
    page = visits_page(storage, "home", {})
    [card] = page.cards
    assert card.who == "stranger-aa" and len(card.faces) == 2 and card.outcome.value == "alerted"
    assert sorted(f.camera for f in page.folds) == ["door", "garden"] and not page.behind
    assert visit_page(storage, "home", card.best.verdict_id).card.visit_id == "visit-1"
    person = person_page(storage, "home", "stranger-aa")
    assert person.visits == 1 and person.last_seen == T0 + timedelta(seconds=1)
    write(storage, store, SCENE)  # a replay writes nothing new
    assert len(store.day("home", DAY).frames) == 3


def test_a_failed_summary_write_loses_nothing_and_the_page_says_it_is_behind(storage, tmp_path):
    failing = FailingSummaries(storage.client, storage.bucket)
    write(failing, DayIndexStore(failing), SCENE)  # raises nothing: the results are the record
    assert all(storage.exists(r["frame_key"].replace("/frames/", "/results/")[:-4] + ".json") for r in SCENE)
    page = visits_page(storage, "home", {})
    assert page.behind == [DAY] and page.cards == []
    out = run_cli(storage, "reindex", "--household", "home")
    assert "1 day(s), 3 frame(s) indexed" in out.stdout
    page = visits_page(storage, "home", {})
    assert page.behind == [] and len(page.cards) == 1


@pytest.mark.parametrize("damage", ["deleted", "damaged"])
def test_reindex_rebuilds_a_summary_deleted_or_damaged(storage, damage):
    store = DayIndexStore(storage)
    write(storage, store, SCENE)
    before = storage.get(day_index_key("home", DAY)).body
    if damage == "deleted":
        storage.delete(day_index_key("home", DAY))
        storage.delete(people_index_key("home"))
    else:
        storage.put(day_index_key("home", DAY), b'{"format": 1, "frames": [[1, 2]]}')
    assert visits_page(storage, "home", {}).cards == []
    store.reindex("home")
    assert storage.get(day_index_key("home", DAY)).body == before
    assert person_page(storage, "home", "stranger-aa").visits == 1


def test_a_damaged_summary_is_marked_behind_when_recognize_next_writes(storage):
    store = DayIndexStore(storage)
    write(storage, store, SCENE[:1])
    storage.put(day_index_key("home", DAY), b"not json")
    write(storage, store, SCENE[1:])
    assert visits_page(storage, "home", {}).behind == [DAY]


class CountingStorage(Storage):
    """Counts the summaries' requests, and the conditional writes refused."""

    def __init__(self, client: Any, bucket: str) -> None:
        super().__init__(client, bucket)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, what: str) -> None:
        with self._lock:
            self.calls[what] += 1

    def get(self, key: str, **kwargs: Any) -> Any:
        self._count(f"get {key.split('/')[-1]}")
        return super().get(key, **kwargs)

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        self._count(f"put {key.split('/')[-1]}")
        try:
            return super().put(key, body, **kwargs)
        except WriteConflict:
            self._count("refused")
            raise


def known(n: int, name: str) -> dict[str, Any]:
    """A known person's frame 10 x n minutes in: more than KNOWN_GAP apart, so each is a visit."""
    face = {"box": {"x": 5, "y": 5, "w": 90, "h": 90}, "verdict": "known", "state": "judged", "name": name}
    return result(600 * n, [face])


def test_a_process_writes_its_frames_without_reading_the_summaries_again(storage):
    """What the load test measured (RELIABILITY.md): one conditional write of the day's
    summary per frame; the day read once, the people summary only when the day's visits
    per person change."""
    counting = CountingStorage(storage.client, storage.bucket)
    store = DayIndexStore(counting)
    frames = [known(0, "ada"), *(result(n, [unsure()]) for n in range(1, 9)), known(10, "ada")]
    for r in frames:
        store.record("home", [r])
    day, people = f"{DAY}.json", people_index_key("home").split("/")[-1]
    assert counting.calls[f"put {day}"] == len(frames) and counting.calls[f"get {day}"] == 1
    assert counting.calls[f"get {people}"] == 2  # the first visit, and the second
    assert person_page(storage, "home", "ada").visits == 2
    # A redelivered frame writes nothing (one read to be sure), and costs the next no read.
    store.record("home", [frames[-1]])
    store.record("home", [result(20, [unsure()])])
    assert counting.calls[f"put {day}"] == len(frames) + 1 and counting.calls[f"get {day}"] == 2
    assert len(store.day("home", DAY).frames) == len(frames) + 1


def test_two_processes_writing_one_day_by_turns_lose_nothing(storage):
    """Each process's kept copy is stale after the other's write: its conditional write is
    refused, and the change is redone on the summary read."""
    counting = CountingStorage(storage.client, storage.bucket)
    one, two = DayIndexStore(counting), DayIndexStore(counting)
    frames = [known(n, "ada" if n % 3 else "ben") for n in range(12)]
    for n, r in enumerate(frames):
        (one if n % 2 else two).record("home", [r])
    assert len(DayIndexStore(storage).day("home", DAY).frames) == len(frames)
    assert person_page(storage, "home", "ada").visits == 8
    assert person_page(storage, "home", "ben").visits == 4
    assert counting.calls["refused"] <= 2  # after a refusal, a process reads before writing


def test_concurrent_writes_in_one_process_are_written_together(storage):
    counting = CountingStorage(storage.client, storage.bucket)
    store = DayIndexStore(counting)
    frames = [result(n, [unsure()], camera=f"cam{n % 3}") for n in range(24)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: store.record("home", [r]), frames))
    assert len(store.day("home", DAY).frames) == len(frames)
    assert counting.calls["refused"] == 0  # the process's own threads never race
    assert counting.calls[f"put {DAY}.json"] <= len(frames)


def test_a_write_that_fails_after_a_kept_copy_marks_the_day_behind(storage):
    """The kept copy is only a guess: a failed write keeps nothing new, and the next frame
    is written on what is stored."""
    failing = FailingSummaries(storage.client, storage.bucket)
    store = DayIndexStore(storage)
    write(storage, store, SCENE[:1])
    store.storage = failing
    write(failing, store, SCENE[1:2])
    store.storage = storage
    write(storage, store, SCENE[2:])
    assert visits_page(storage, "home", {}).behind == [DAY]
    assert set(store.day("home", DAY).frames) == {SCENE[0]["frame_key"], SCENE[2]["frame_key"]}


def days_back(back: int, faces: list[dict[str, Any]]) -> dict[str, Any]:
    """A result `back` days before T0 (its day in its key, as recognize files it)."""
    at = T0 - timedelta(days=back)
    return {
        **result(0, faces),
        "frame_key": f"households/home/frames/door/{at:%Y%m%d}/{at:%H%M%S%f}-{back:012d}.jpg",
        "captured_at": at.isoformat(),
    }


@pytest.mark.parametrize(("days", "complete"), [(3, True), (7, False)])
def test_the_filtered_faces_page_reads_its_days_at_once_newest_first(storage, days, complete):
    """A filter that leaves the newest day short reads the rest of MAX_DAYS together: the
    same faces, in the same order, as reading them one by one, and says when it stopped."""
    from facewatch.web.console.views import MAX_DAYS, FaceFilter, faces_page

    ada = {"box": {"x": 5, "y": 5, "w": 90, "h": 90}, "verdict": "known", "state": "judged", "name": "ada"}
    write(storage, DayIndexStore(storage), [days_back(b, [ada, unsure()]) for b in range(days)])
    page = faces_page(storage, "home", FaceFilter(person="ada"), "UTC")
    shown = min(days, MAX_DAYS)
    assert [r.captured_at for r in page.faces] == [T0 - timedelta(days=b) for b in range(shown)]
    assert page.complete is complete and page.read == shown
