"""The console's summaries on a real S3 server: recognize's writes keep them; a summary
write that fails loses nothing (the result is written, the day is marked behind and the
visits page says so); `facewatch reindex` rebuilds a summary deleted or damaged, and clears
the mark. The console's pages read summaries only: a handful of requests, whatever the
history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from facewatch.exceptions import StorageError
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
