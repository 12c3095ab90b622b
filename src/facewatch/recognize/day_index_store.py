"""The household's summaries in the bucket (day_index.py): each changed by compare-and-swap,
so concurrent recognize invocations never lose each other's entries, and written only when
what it says changes.

A summary is never the only copy of anything: the results are. So a summary that fails to
be written is logged and marked behind (a small marker object per day, which the console
lists and shows), and `facewatch reindex --household H` rebuilds every summary from the
results and clears the markers. A summary that cannot be read is treated as missing and
marked behind the same way."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from facewatch.exceptions import ObjectMissing, StorageError
from facewatch.layout import (
    FrameKey,
    day_index_key,
    index_behind_key,
    index_days_prefix,
    people_index_key,
    results_prefix,
)
from facewatch.recognize.day_index import (
    DayIndex,
    FrameEntry,
    PeopleIndex,
    day_of,
    day_people,
    entry_of,
    with_day,
)
from facewatch.store.json_state import GUESS_PAUSE
from facewatch.store.storage import Storage, StoredObject, encode_json

log = logging.getLogger(__name__)

BEHIND = ".behind"


def _read_day(obj: StoredObject | None, day: str) -> DayIndex:
    if obj is None:
        return DayIndex(day)
    return DayIndex.from_dict(json.loads(obj.body))


def _read_people(obj: StoredObject | None) -> PeopleIndex:
    if obj is None:
        return PeopleIndex()
    return PeopleIndex.from_dict(json.loads(obj.body))


@dataclass(frozen=True, slots=True)
class Summaries:
    """What the console reads: the days a household has summaries of (newest first) and the
    days whose summaries are behind their results."""

    days: list[str]
    behind: list[str]


KEEP_BYTES = 8 * 1024 * 1024
"""The day summaries a process keeps as it wrote them last (by their JSON's size, least
recently used dropped first): a day of 200 frames is about 58 KB."""


@dataclass(frozen=True, slots=True)
class _Kept:
    """A day summary as this process last wrote (or read) it, with who came that day."""

    etag: str
    index: DayIndex
    came: dict[str, dict[str, int]]
    size: int


@dataclass
class _Queue:
    """One day summary's entries waiting in this process, and the lock its writer holds."""

    writing: threading.Lock = field(default_factory=threading.Lock)
    entries: list[FrameEntry] = field(default_factory=list)
    users: int = 0


class DayIndexStore:
    """Measured under the 20-household load (RELIABILITY.md): reading the day summary and the
    people summary before every write cost two of the three extra requests per frame, so a
    process keeps the day summaries it wrote last and tries the next change on the kept
    copy, written with If-Match on its ETag without a read (another writer's version in
    between makes it fail, and the change is redone on the summary read, as with the
    visit books in store/json_state.py); the people summary is read and written only when
    the day's visits per person change; and a process's concurrent updates of one day
    are written together, one write at a time, so its own threads never race each other."""

    def __init__(self, storage: Storage, *, keep_bytes: int = KEEP_BYTES) -> None:
        self.storage = storage
        self.keep_bytes = keep_bytes
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._kept_size = 0
        self._reads_left: dict[str, int] = {}
        self._queues: dict[str, _Queue] = {}

    # --- writing ------------------------------------------------------------------------
    def record(self, household: str, results: Iterable[Mapping[str, Any]]) -> None:
        """Index results just written (one frame's, usually). Never raises: a summary that
        cannot be written is marked behind, and the results stay the record. Returns once
        the entries are written (by this call, or by another thread's write that took
        them along), or marked behind."""
        by_day: dict[str, list[FrameEntry]] = {}
        for result in results:
            entry = entry_of(result)
            if entry is not None:
                by_day.setdefault(day_of(entry.at), []).append(entry)
        for day, entries in by_day.items():
            try:
                self._add_together(household, day, entries)
            except Exception as exc:  # a summary must never fail a result: mark it behind
                log.error("household %s: summary of %s not written (%s); marked behind", household, day, exc)
                self.mark_behind(household, day, str(exc))

    def _add_together(self, household: str, day: str, entries: list[FrameEntry]) -> None:
        """Queue the entries; whoever holds the day's lock next writes everything queued.
        A write that fails marks the day behind for all the entries it carried."""
        key = day_index_key(household, day)
        with self._lock:
            queue = self._queues.setdefault(key, _Queue())
            queue.entries.extend(entries)
            queue.users += 1
        try:
            with queue.writing:
                with self._lock:
                    batch, queue.entries = queue.entries, []
                if batch:
                    self._add(household, day, batch)
        finally:
            with self._lock:
                queue.users -= 1
                if queue.users == 0:
                    del self._queues[key]

    def _add(self, household: str, day: str, entries: list[FrameEntry]) -> None:
        key = day_index_key(household, day)
        kept = self._guess(key)
        guess = None if kept is None else StoredObject(key, b"", kept.etag, {})
        on_guess, wrote_guess = [False], [False]

        def change(obj: StoredObject | None) -> tuple[bytes | None, _Kept]:
            on_guess[0] = kept is not None and obj is guess
            if kept is not None and obj is guess:
                before, came = kept.index, kept.came
            else:
                before = self._decode(household, day, obj)
                came = day_people(before)
            after = before.with_entries(entries)
            if obj is not None and after.frames == before.frames:
                return None, _Kept("", before, came, len(obj.body))
            body = encode_json(after.to_dict(), compact=True)
            wrote_guess[0] = wrote_guess[0] or on_guess[0]
            return body, _Kept("", after, day_people(after), len(body))

        decided, etag = self.storage.swap_from(key, change, guess, content_type="application/json")
        if wrote_guess[0] and not on_guess[0]:  # refused: another writer's version is stored
            with self._lock:
                self._reads_left[key] = GUESS_PAUSE
        if etag is not None:
            self._keep(key, replace(decided, etag=etag))
        came_before = kept.came if kept is not None and on_guess[0] else None
        if came_before is None or decided.came != came_before:
            self._people(household, day, decided.came)

    def _decode(self, household: str, day: str, obj: StoredObject | None) -> DayIndex:
        try:
            return _read_day(obj, day)
        except (ValueError, KeyError, TypeError) as exc:
            # Damaged: start the day afresh from these entries, and say the rest is missing.
            log.error("household %s: summary of %s unreadable (%s); starting it again", household, day, exc)
            self.mark_behind(household, day, f"unreadable summary: {exc}")
            return DayIndex(day)

    def _guess(self, key: str) -> _Kept | None:
        """The kept summary to try the change on; none for a while after a try was refused
        (writers taking turns waste at most one write in GUESS_PAUSE + 1)."""
        with self._lock:
            left = self._reads_left.get(key, 0)
            if left > 0:
                self._reads_left[key] = left - 1
                return None
            self._reads_left.pop(key, None)
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
            return kept

    def _keep(self, key: str, kept: _Kept) -> None:
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._kept_size -= old.size
            if kept.size > self.keep_bytes:
                return
            self._kept[key] = kept
            self._kept_size += kept.size
            while self._kept_size > self.keep_bytes:
                self._kept_size -= self._kept.popitem(last=False)[1].size

    def _people(self, household: str, day: str, came: dict[str, dict[str, int]]) -> None:
        def change(obj: StoredObject | None) -> tuple[bytes | None, None]:
            try:
                before = _read_people(obj)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.error("household %s: people summary unreadable (%s); starting it again", household, exc)
                self.mark_behind(household, day, f"unreadable people summary: {exc}")
                before = PeopleIndex()
            after = with_day(before, day, came)
            if obj is not None and after.people == before.people:
                return None, None
            return encode_json(after.to_dict(), compact=True), None

        self.storage.swap(people_index_key(household), change, content_type="application/json")

    def mark_behind(self, household: str, day: str, why: str) -> None:
        try:
            self.storage.put_json(
                index_behind_key(household, day), {"at": datetime.now(UTC), "why": why[:500]}
            )
        except StorageError as exc:
            log.error("household %s: could not mark the summary of %s behind either: %s", household, day, exc)

    # --- reading ------------------------------------------------------------------------
    def summaries(self, household: str) -> Summaries:
        """One listing: the days summarised and the days marked behind."""
        prefix = index_days_prefix(household)
        days, behind = [], []
        for key in self.storage.list_keys(prefix):
            name = key.removeprefix(prefix)
            if name.endswith(BEHIND):
                behind.append(name.removesuffix(BEHIND))
            elif name.endswith(".json"):
                days.append(name.removesuffix(".json"))
        return Summaries(sorted(days, reverse=True), sorted(behind, reverse=True))

    def day(self, household: str, day: str) -> DayIndex:
        """A day's summary; empty when there is none, or it is unreadable (reindex repairs)."""
        try:
            return _read_day(self.storage.get(day_index_key(household, day)), day)
        except ObjectMissing:
            return DayIndex(day)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("household %s: summary of %s unreadable: %s", household, day, exc)
            return DayIndex(day)

    def read_days(self, household: str, days: Sequence[str]) -> Iterator[DayIndex]:
        """Several days' summaries, in the order given, read at once: a page that needs
        five waits for one round trip, not five in a row (measured under
        bench/console.py: the filtered Faces page spent most of its time waiting)."""
        if len(days) <= 1:
            yield from (self.day(household, d) for d in days)
            return
        with ThreadPoolExecutor(min(len(days), 8)) as pool:
            yield from pool.map(lambda d: self.day(household, d), days)

    def people(self, household: str) -> PeopleIndex:
        try:
            return _read_people(self.storage.get(people_index_key(household)))
        except ObjectMissing:
            return PeopleIndex()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("household %s: people summary unreadable: %s", household, exc)
            return PeopleIndex()

    # --- rebuilding ---------------------------------------------------------------------
    def reindex(self, household: str, *, workers: int = 8) -> Reindexed:
        """Rebuild every summary of the household from its results (`facewatch reindex`).
        Each day is merged by compare-and-swap with what recognize wrote meanwhile, and its
        behind marker cleared once its summary is written."""
        prefix = results_prefix(household)
        by_day: dict[str, list[str]] = {}
        for camera in self.storage.list_folders(prefix):
            for day in self.storage.list_folders(f"{prefix}{camera}/"):
                keys = [k for k in self.storage.list_keys(f"{prefix}{camera}/{day}/") if k.endswith(".json")]
                by_day.setdefault(day, []).extend(keys)
        people = PeopleIndex()
        frames = 0
        with ThreadPoolExecutor(workers) as pool:
            for day in sorted(by_day):
                entries = [e for e in pool.map(self._entry, by_day[day]) if e is not None]
                frames += len(entries)
                index = self._replace_day(household, day, entries)
                people = with_day(people, day, day_people(index))
        summarised = set(by_day)
        for stale in set(self.summaries(household).days) - summarised:
            self.storage.delete(day_index_key(household, stale))  # its results are gone
        self.storage.put(
            people_index_key(household),
            encode_json(people.to_dict(), compact=True),
            content_type="application/json",
        )
        for day in self.summaries(household).behind:
            self.storage.delete(index_behind_key(household, day))
        return Reindexed(len(by_day), frames)

    def _entry(self, key: str) -> FrameEntry | None:
        try:
            return entry_of(self.storage.get_json(key))
        except (StorageError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s: not indexed (%s)", key, exc)
            return None

    def _replace_day(self, household: str, day: str, entries: list[FrameEntry]) -> DayIndex:
        built = DayIndex(day).with_entries(entries)

        def change(obj: StoredObject | None) -> tuple[bytes, DayIndex]:
            try:
                current = _read_day(obj, day)
            except (ValueError, KeyError, TypeError):
                current = DayIndex(day)
            # Frames recognize indexed after the listing above are kept (their results
            # exist); entries whose results are gone are dropped; the rest is rebuilt.
            later = [
                e
                for k, e in current.frames.items()
                if k not in built.frames and self.storage.exists(FrameKey.parse(k).result_key)
            ]
            merged = built.with_entries(later)
            return encode_json(merged.to_dict(), compact=True), merged

        return self.storage.swap(day_index_key(household, day), change, content_type="application/json")


@dataclass(frozen=True, slots=True)
class Reindexed:
    days: int
    frames: int
