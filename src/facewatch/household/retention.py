"""How long a household's frames and results are kept (`retention_days`, default 30), and
the sweep that removes the older ones.

What stays whatever its age, because something still needs it:
- a frame whose face a person marked: "not X" (negatives.npz keeps the verdict id, and an
  older negatives object is encoded again from the frame) or "this is X" (the known photo
  cut from it holds `face-<frame name>-` in its name, after the stranger id when a
  remembered stranger was named with it);
- the frames of a visit still open or in its alert cooldown (a redelivered frame of it is
  recognised by its key: at most a day's window plus a week's cooldown, VISIT_NEEDS);
- the recent sightings of each stranger still remembered (splitting one encodes its frame
  again); a stranger past the deployment's memory is forgotten at its next write.
Known photos, strangers' crops and the state books are not frames: never touched here.

The decisions are plain functions on plain data; `sweep_household` is the edge that lists,
reads and deletes. The visits book is read as JSON; the stranger memory (sharded, kept by
recognize's StrangerStore) is read by the caller's `strangers`, since a household's rules
load nothing of recognize."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from facewatch.exceptions import BadKey, ObjectMissing, StorageError
from facewatch.layout import (
    FrameKey,
    frames_prefix,
    known_prefix,
    negatives_key,
    results_prefix,
    visits_key,
)
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
VISIT_NEEDS = timedelta(days=8)
UNTAG_AHEAD = timedelta(days=7)
DELETE_BATCH = 1000  # S3 DeleteObjects' most keys per request
_NAMED_PHOTO = re.compile(r"face-(?P<name>[0-9]{12}-[0-9a-f]{8,32})-")


@dataclass(frozen=True, slots=True)
class Marks:
    """What a household's books and marks say must stay, as plain data."""

    frame_keys: frozenset[str]
    """Frames named by the visits book or a stranger's recent sightings."""
    frame_names: frozenset[str]
    """Frame names (`HHMMSSffffff-id`, with their day) a person marked."""


def _frame_name(key: FrameKey) -> str:
    return f"{key.day}/{key.name}"


def marks_from(
    visits: Mapping[str, Any],
    strangers: Mapping[str, Any],
    negative_verdict_ids: Iterable[str],
    known_photo_keys: Iterable[str],
    *,
    now: datetime,
    stranger_memory: timedelta,
) -> Marks:
    """The frames that must stay, from the books (as stored JSON), the verdict ids of the
    household's "not X" corrections and its known photos' keys."""
    keys: set[str] = set()
    for visit in visits.get("visits") or []:
        if min(_since(visit.get("last_seen"), now), _since(visit.get("alerted_at"), now)) <= VISIT_NEEDS:
            keys.update(str(k) for k in visit.get("frame_keys") or [])
    for stranger in strangers.get("strangers") or []:
        if _since(stranger.get("last_seen"), now) <= stranger_memory:
            keys.update(str(s["frame_key"]) for s in stranger.get("recent") or [] if s.get("frame_key"))
    names: set[str] = set()
    for verdict_id in negative_verdict_ids:
        try:
            names.add(_frame_name(FrameKey.from_verdict_id(verdict_id)[0]))
        except BadKey:
            continue
    for key in known_photo_keys:
        found = _NAMED_PHOTO.search(key.rpartition("/")[2])
        if found:  # the day is not in a named photo's name: any day's frame of that name stays
            names.add(found["name"])
    return Marks(frozenset(keys), frozenset(names))


def _since(when: object, now: datetime) -> timedelta:
    """How long ago a stored time was; missing: forever; unreadable: now (kept, to be safe)."""
    if when is None:
        return timedelta.max
    try:
        at = datetime.fromisoformat(str(when))
    except ValueError:
        return timedelta(0)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return now - at


def oldest_kept_day(now: datetime, days: int) -> str:
    """YYYYMMDD (UTC, as frame keys are): frames of an earlier day are past retention."""
    return (now.astimezone(UTC) - timedelta(days=days)).strftime("%Y%m%d")


def is_marked(frame: FrameKey, marks: Marks) -> bool:
    return (
        str(frame) in marks.frame_keys
        or _frame_name(frame) in marks.frame_names
        or frame.name in marks.frame_names
    )


def expired_objects(
    frame_keys: Iterable[str], result_keys: Iterable[str], marks: Marks, oldest_day: str
) -> list[str]:
    """The frames and results to delete: those of a day before `oldest_day` whose frame is
    not marked. A result goes with its frame; one whose frame is gone goes by its own day."""
    results = set(result_keys)
    kept_results: set[str] = set()
    doomed: list[str] = []
    for key in frame_keys:
        try:
            frame = FrameKey.parse(key)
        except BadKey:
            continue  # not facewatch's: left alone
        if frame.day >= oldest_day or is_marked(frame, marks):
            kept_results.add(frame.result_key)
        else:
            doomed.append(key)
            if frame.result_key in results:
                doomed.append(frame.result_key)
    listed = set(doomed)
    for key in sorted(results):
        if key in listed or key in kept_results:
            continue
        parts = key.split("/")
        if len(parts) == 6 and parts[4].isdigit() and parts[4] < oldest_day:
            doomed.append(key)
    return doomed


def lifecycle_spared(frame_keys: Iterable[str], marks: Marks, now: datetime, expiry_days: int) -> list[str]:
    """The marked frames whose expiry tag must go now: those the lifecycle rule (which
    expires a tagged frame `expiry_days` after its upload) reaches within UNTAG_AHEAD. A
    week's margin, so a sweep missed for a few days loses none; older ones were untagged
    then, or are gone."""
    first = oldest_kept_day(now, expiry_days)
    last = oldest_kept_day(now, expiry_days - UNTAG_AHEAD.days)
    spared = []
    for key in frame_keys:
        day = _day_of(key)
        if first <= day <= last and _parses(key) and is_marked(FrameKey.parse(key), marks):
            spared.append(key)
    return spared


@dataclass(frozen=True, slots=True)
class Swept:
    household: str
    deleted: int
    kept_marked: int


def _json(storage: Storage, key: str) -> dict[str, Any]:
    try:
        value = storage.get_json(key)
    except ObjectMissing:
        return {}
    except StorageError as exc:  # unreadable: protect nothing by it, but say so
        log.warning("retention: %s", exc)
        return {}
    return value if isinstance(value, dict) else {}


def _negative_verdict_ids(storage: Storage, household: str) -> list[str]:
    from facewatch.faces.gallery import Gallery

    try:
        body = storage.get(negatives_key(household)).body
    except ObjectMissing:
        return []
    # Unreadable (StorageError): nothing can say which frames were corrected, so the
    # household is skipped this time rather than one of them deleted.
    return list(Gallery.from_bytes(body).photo_keys)


ReadStrangers = Callable[[str], Mapping[str, Any]]
"""A household's remembered strangers as their book's JSON (`{"strangers": [...]}`)."""


def household_marks(
    storage: Storage, household: str, now: datetime, stranger_memory: timedelta, strangers: ReadStrangers
) -> Marks:
    return marks_from(
        _json(storage, visits_key(household)),
        strangers(household),
        _negative_verdict_ids(storage, household),
        storage.list_keys(known_prefix(household)),
        now=now,
        stranger_memory=stranger_memory,
    )


def retention_days(storage: Storage, household: str) -> int:
    from facewatch.exceptions import BadInput
    from facewatch.household.settings import load_household_settings

    try:
        return load_household_settings(storage, household).retention_days
    except BadInput:
        return DEFAULT_RETENTION_DAYS


def sweep_household(
    storage: Storage,
    household: str,
    now: datetime,
    *,
    strangers: ReadStrangers,
    days: int | None = None,
    stranger_memory: timedelta = timedelta(days=30),
    expiry_days: int | None = None,
) -> Swept:
    """Delete the household's frames and results past its retention (see the module);
    `stranger_memory`: the deployment's FACEWATCH_STRANGER_MEMORY_DAYS; `expiry_days`: its
    FACEWATCH_FRAME_EXPIRY_DAYS, the lifecycle rule's, whose tag is lifted from the marked
    frames it would reach within a week."""
    days = retention_days(storage, household) if days is None else days
    marks = household_marks(storage, household, now, stranger_memory, strangers)
    oldest = oldest_kept_day(now, days)
    frames = list(storage.list_keys(frames_prefix(household)))
    doomed = expired_objects(frames, storage.list_keys(results_prefix(household)), marks, oldest)
    marked = sum(
        1
        for key in frames
        if _day_of(key) < oldest and _parses(key) and is_marked(FrameKey.parse(key), marks)
    )
    if expiry_days:
        for key in lifecycle_spared(frames, marks, now, expiry_days):
            storage.untag(key)
    deleted = 0
    for start in range(0, len(doomed), DELETE_BATCH):
        batch = doomed[start : start + DELETE_BATCH]
        storage.delete_many(batch)  # deleting a missing key succeeds on S3
        deleted += len(batch)
    if deleted:
        log.warning(
            "retention: household %s: %d object(s) older than %d days deleted", household, deleted, days
        )
    return Swept(household, deleted, marked)


def _day_of(key: str) -> str:
    parts = key.split("/")
    return parts[4] if len(parts) == 6 else ""


def _parses(key: str) -> bool:
    try:
        FrameKey.parse(key)
    except BadKey:
        return False
    return True


def describe(swept: Iterable[Swept]) -> str:
    return json.dumps(
        [{"household": s.household, "deleted": s.deleted, "kept_marked": s.kept_marked} for s in swept]
    )
