"""A household's remembered strangers in the bucket, in shards under one index, changed only
by compare-and-swap on the index's ETag, with their face crops beside them. Naming one is
naming.py's; the commands are cli/strangers.py's. Corrections by hand (forget, merge,
split) apply strangers.py's pure rules in one change each, and move the crops.

Layout (layout.stranger_memory_prefix): `index.json` names the current version of each
shard, `{"format": 2, "shards": {"07": "<key of shard 07>", ...}}`; each shard version is
an object of its own, `<NN>-<random>.json`, written once and never changed, holding the
strangers whose id falls in that shard (strangers.shard_of), as the one-object book held
them all. A change reads the index (small: one line a shard), reads only the shard
versions it does not already keep, writes a new version of each shard it changes, then
swaps the index (If-Match on the ETag it read): that swap is the change's one commit point,
so two writers cannot both win, and a loser's shard versions are named by nobody (it
deletes them, and decides again on what won). Versions an index no longer names are deleted
after the swap that replaced them; a reader that finds one gone read an index since
replaced, and reads the index again. A stranger frame that changes one stranger writes one
shard (a thirty-second of the memory at most, about 13 strangers at the cap) and the index.

A household whose memory is still the one object an older facewatch wrote
(layout.strangers_key) is read from it on the first change and moved: all its shards are
written and the index created (If-None-Match: the first writer wins, and the others decide
again on the index it made). The old object is left as it was and never read again."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np

from facewatch.exceptions import BadImage, BadInput, ObjectMissing, StorageError, WriteConflict
from facewatch.faces.gallery import GALLERY_FORMAT
from facewatch.frames import Box
from facewatch.household.rules import stranger_suppressed
from facewatch.images import decode_bgr, to_rgb
from facewatch.layout import (
    FrameKey,
    check_id,
    stranger_crop_key,
    stranger_crops_prefix,
    stranger_memory_prefix,
    strangers_key,
)
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.strangers import (
    CropMove,
    NewSighting,
    Recall,
    Representative,
    Stranger,
    StrangerBook,
    StrangerSighting,
    encoding_row,
    expire,
    merge_strangers,
    remember,
    split_stranger,
    split_stranger_id,
)
from facewatch.records import HeldBack
from facewatch.store.storage import Storage, StoredObject, encode_json

log = logging.getLogger(__name__)

T = TypeVar("T")

CROP_MAX_PIXELS = 4_000_000
"""Crops are facewatch's own small JPEGs; anything larger under their keys is not one."""
INDEX_FORMAT = 2
READERS = 8
"""Shard versions read at once (a cold process reads every shard)."""
RETIRE_BATCH = 32
"""Replaced shard versions are listed in the index and deleted in one request once there
are this many, so a frame makes two writes (its shard, the index), not three."""
GUESS_PAUSE = 8
"""Changes that read the index first after a try on the kept memory was refused (as
json_state.GUESS_PAUSE: with writers taking turns, a wasted shard write is then rare)."""


@dataclass(frozen=True)
class Memory:
    """A household's memory as read: the index's ETag (None: no index yet), the version of
    each shard it names, and each shard's strangers and body size. `moving`: read from the
    one object an older facewatch wrote, every shard still to be written."""

    etag: str | None
    versions: Mapping[str, str]
    shards: Mapping[str, list[Stranger]]
    sizes: Mapping[str, int]
    retired: tuple[str, ...] = ()
    """Shard versions no longer named, deleted together once there are RETIRE_BATCH."""
    moving: bool = False

    @property
    def book(self) -> StrangerBook:
        return StrangerBook.from_shards(dict(self.shards))

    @property
    def size(self) -> int:
        return sum(self.sizes.values())


EMPTY = Memory(None, {}, {}, {})


def _same(before: list[Stranger], after: list[Stranger]) -> bool:
    """Whether a shard is unchanged: the same stranger objects (a change builds a new one for
    each stranger it alters and passes the others through), so no stranger is compared
    field by field."""
    return len(before) == len(after) and all(a is b for a, b in zip(before, after, strict=True))


def _as_kept(stranger: Stranger, known: Mapping[str, Stranger]) -> Stranger:
    """A stranger read again, as the object kept when nothing of them changed, else with the
    kept representatives when those did not: the strangers' gallery is kept by the identity
    of their representatives (strangers.strangers_gallery), and another writer's sighting
    of one stranger must not make this process build the whole gallery again."""
    kept = known.get(stranger.stranger_id)
    if kept is None:
        return stranger
    if kept == stranger:
        return kept
    if kept.representatives == stranger.representatives:
        return replace(stranger, representatives=kept.representatives)
    return stranger


def random_pause(attempt: int) -> float:
    """After a lost race, as Storage.swap waits: short, random, growing with the attempts."""
    return random.uniform(0.01, 0.05) * (attempt + 1)


class StrangerStore:
    what = "stranger memory"  # unreadable: start afresh (strangers are "first seen" again)

    def __init__(
        self,
        storage: Storage,
        *,
        attempts: int = 25,
        pause: Callable[[float], None] = time.sleep,
        keep_bytes: int = 0,
    ) -> None:
        self.storage = storage
        self.attempts = attempts
        self.pause = pause
        self.keep_bytes = keep_bytes
        """Keep each household's memory as last read or written, up to this many bytes of
        shards (least recently used dropped first), so a change reads only the index and the
        shards others changed since; 0 keeps none."""
        self._kept: OrderedDict[str, Memory] = OrderedDict()
        self._reads_left: dict[str, int] = {}
        """Per household refused lately: how many changes still read before trying the kept memory."""
        self._kept_lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------
    def load(self, household: str) -> tuple[StrangerBook, str | None]:
        """The stored memory (empty if there is none) and its index's ETag."""
        memory = self._read(household, self._kept_memory(household))
        self._keep(household, memory)
        return memory.book, memory.etag

    def index_key(self, household: str) -> str:
        return f"{stranger_memory_prefix(household)}index.json"

    def _read(self, household: str, kept: Memory | None) -> Memory:
        """The memory as stored now: the index, and each shard it names (from `kept` when
        it names the same version)."""
        for _ in range(self.attempts):
            try:
                index = self.storage.get(self.index_key(household))
            except ObjectMissing:
                return self._read_moving(household)
            if kept is not None and kept.etag == index.etag and not kept.moving:
                return kept
            try:
                data = json.loads(index.body)
                versions = {str(k): str(v) for k, v in data["shards"].items()}
                retired = tuple(str(k) for k in data.get("retired", ()))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.error(
                    "household %s: %s index unreadable (%s); starting afresh", household, self.what, exc
                )
                return Memory(index.etag, {}, {}, {})
            reuse = kept if kept is not None and not kept.moving else EMPTY
            shards = {sh: reuse.shards[sh] for sh, v in versions.items() if reuse.versions.get(sh) == v}
            sizes = {sh: reuse.sizes[sh] for sh in shards}
            wanted = [(sh, v) for sh, v in versions.items() if sh not in shards]
            known = {s.stranger_id: s for sh in reuse.shards.values() for s in sh} if wanted else {}
            try:
                for sh, strangers, size in self._read_shards(household, wanted):
                    shards[sh], sizes[sh] = [_as_kept(s, known) for s in strangers], size
            except ObjectMissing:
                continue  # replaced since the index was read: read the index again
            return Memory(index.etag, versions, shards, sizes, retired)
        raise StorageError(
            f"household {household}: {self.what} changed by others {self.attempts} times in a row"
        )

    def _read_shards(
        self, household: str, wanted: list[tuple[str, str]]
    ) -> list[tuple[str, list[Stranger], int]]:
        def read(item: tuple[str, str]) -> tuple[str, list[Stranger], int]:
            shard, key = item
            body = self.storage.get(key).body
            try:
                return shard, StrangerBook.from_dict(json.loads(body)).strangers, len(body)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.error(
                    "household %s: %s shard %s unreadable (%s); its strangers are forgotten",
                    household,
                    self.what,
                    key,
                    exc,
                )
                return shard, [], 0

        if len(wanted) <= 1:
            return [read(item) for item in wanted]
        with ThreadPoolExecutor(min(READERS, len(wanted))) as pool:
            return list(pool.map(read, wanted))

    def _read_moving(self, household: str) -> Memory:
        """The memory an older facewatch kept as one object, to be moved into shards."""
        try:
            obj = self.storage.get(strangers_key(household))
        except ObjectMissing:
            return EMPTY
        try:
            book = StrangerBook.from_dict(json.loads(obj.body))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("household %s: %s unreadable (%s); starting a new one", household, self.what, exc)
            return EMPTY
        shards = book.shards()
        return Memory(None, {}, shards, {sh: 0 for sh in shards}, moving=True)

    # --- changing ---------------------------------------------------------------------
    def change(
        self, household: str, change: Callable[[StrangerBook], tuple[StrangerBook, T]]
    ) -> tuple[StrangerBook, StrangerBook, T]:
        """Apply `change` to the stored memory, atomically (redone on a conflict with another
        writer); returns (memory before, memory after, what `change` returned). `change` may
        be called more than once, each time on a book of its own.

        The first try is on the memory kept from this process's last change, without reading
        the index: the index write's If-Match on the kept ETag proves it is still the stored
        version. Nothing is decided on a kept memory that is not written (no change, or an
        exception from `change`): that is decided again on the memory read."""
        kept = self._kept_memory(household)
        guess = kept if kept is not None and self._may_guess(household) else None
        for attempt in range(self.attempts + (guess is not None)):
            guessed, memory = guess is not None, guess
            guess = None
            if memory is None:
                # The newest kept (another thread of this process may have written since).
                memory = self._read(household, self._kept_memory(household) or kept)
            kept = memory
            before = memory.book
            try:
                after, result = change(StrangerBook(list(before.strangers)))
            except Exception:
                if guessed:
                    continue
                raise
            shards = after.shards()
            changed = sorted(
                sh
                for sh in {*memory.shards, *shards}
                if memory.moving or not _same(memory.shards.get(sh, []), shards.get(sh, []))
            )
            if not changed:
                if guessed:
                    continue
                self._keep(household, memory)
                return before, after, result
            committed = self._commit(household, memory, shards, changed)
            if committed is None:
                if guessed:
                    self._refused(household)
                else:
                    self.pause(random_pause(attempt))
                continue
            self._keep(household, committed)
            return before, committed.book, result
        raise StorageError(
            f"household {household}: {self.what} changed by others {self.attempts} times in a row"
        )

    def _commit(
        self, household: str, memory: Memory, shards: dict[str, list[Stranger]], changed: list[str]
    ) -> Memory | None:
        """Write the changed shards' new versions, then swap the index to name them; the
        memory now stored, or None when another writer swapped the index first (this
        change's versions are deleted: nobody names them)."""
        written: dict[str, tuple[str, int]] = {}
        replaced = tuple(v for sh, v in memory.versions.items() if sh in changed)
        retired = (*memory.retired, *replaced)
        due = retired if len(retired) >= RETIRE_BATCH else ()
        try:
            for sh in changed:
                if shards.get(sh):
                    written[sh] = self._write_shard(household, sh, shards[sh])
            versions = {sh: v for sh, v in memory.versions.items() if sh not in changed}
            versions.update({sh: key for sh, (key, _) in written.items()})
            index = {
                "format": INDEX_FORMAT,
                "shards": dict(sorted(versions.items())),
                "retired": [] if due else list(retired),
            }
            etag = self.storage.put(
                self.index_key(household),
                encode_json(index, compact=True),
                content_type="application/json",
                if_none_match=memory.etag is None,
                if_match=memory.etag,
            )
        except (WriteConflict, ObjectMissing) as exc:
            if isinstance(exc, ObjectMissing) and memory.etag is None:
                raise  # not a lost race: the bucket itself is missing
            self._delete([key for key, _ in written.values()])
            return None
        self._delete(list(due))
        sizes = {sh: size for sh, size in memory.sizes.items() if sh not in changed}
        sizes.update({sh: size for sh, (_, size) in written.items()})
        return Memory(etag, versions, {sh: shards[sh] for sh in versions}, sizes, () if due else retired)

    def _write_shard(self, household: str, shard: str, strangers: list[Stranger]) -> tuple[str, int]:
        key = f"{stranger_memory_prefix(household)}{shard}-{uuid.uuid4().hex[:16]}.json"
        body = encode_json(StrangerBook(strangers).to_dict(), compact=True)
        self.storage.put(key, body, content_type="application/json", if_none_match=True)
        return key, len(body)

    def _delete(self, keys: list[str]) -> None:
        """Shard versions nobody names any more; one left behind (an error here, a crash)
        costs only its bytes."""
        try:
            self.storage.delete_many(keys)
        except StorageError as exc:
            log.warning("%d shard versions not deleted: %s", len(keys), exc)

    # --- the memories kept (under the lock: a function serves requests in threads) -------
    def _may_guess(self, household: str) -> bool:
        with self._kept_lock:
            left = self._reads_left.get(household, 0)
            if left > 0:
                self._reads_left[household] = left - 1
                return False
            self._reads_left.pop(household, None)
            return True

    def _refused(self, household: str) -> None:
        with self._kept_lock:
            self._reads_left[household] = GUESS_PAUSE

    def _kept_memory(self, household: str) -> Memory | None:
        with self._kept_lock:
            memory = self._kept.get(household)
            if memory is not None:
                self._kept.move_to_end(household)
            return memory

    def _keep(self, household: str, memory: Memory) -> None:
        if memory.moving or memory.size > self.keep_bytes or self.keep_bytes <= 0:
            return
        with self._kept_lock:
            self._kept[household] = memory
            self._kept.move_to_end(household)
            while sum(m.size for m in self._kept.values()) > self.keep_bytes:
                self._kept.popitem(last=False)

    def record(
        self,
        household: str,
        sightings: Sequence[NewSighting],
        *,
        now: datetime,
        policy: MatchPolicy,
        memory: timedelta,
        crop: Callable[[NewSighting], bytes],
        same_visit_limit: float | None = None,
    ) -> list[Recall]:
        """Remember each unknown face, atomically; then store the crops of those that became
        representatives and delete the crops of strangers forgotten. Both happen after the
        swap: a crash in between is repaired by the redelivered frame (a replay returns the
        same crop key) or by the next expiry."""

        encoded_again: dict[str, np.ndarray | None] = {}

        def change(book: StrangerBook) -> tuple[StrangerBook, list[Recall]]:
            strangers = [self._comparable(household, s, encoded_again) for s in book.strangers]
            recalls = []
            for new in sightings:
                strangers, recall = remember(
                    new, strangers, now=now, policy=policy, memory=memory, same_visit_limit=same_visit_limit
                )
                recalls.append(recall)
            return StrangerBook(strangers), recalls

        before, after, recalls = self.change(household, change)
        for new, recall in zip(sightings, recalls, strict=True):
            if recall.crop_key is not None:
                self.storage.put(recall.crop_key, crop(new), content_type="image/jpeg")
        kept = {s.stranger_id for s in after.strangers}
        for gone in before.strangers:
            if gone.stranger_id not in kept:
                self._delete_crops(household, gone.stranger_id)
        return recalls

    def _comparable(
        self, household: str, stranger: Stranger, encoded_again: dict[str, np.ndarray | None]
    ) -> Stranger:
        """The stranger with every representative in today's encoding: one an older facewatch
        made is encoded again from its crop (once per record: a conflict redoes the change);
        one whose crop is gone or no longer shows a face is dropped, and a stranger left with
        none can no longer be recognised, only forgotten."""
        if all(r.format == GALLERY_FORMAT for r in stranger.representatives):
            return stranger
        kept = []
        for rep in stranger.representatives:
            if rep.format != GALLERY_FORMAT:
                if rep.crop_key not in encoded_again:
                    encoded_again[rep.crop_key] = self._encode_crop(rep.crop_key)
                encoding = encoded_again[rep.crop_key]
                if encoding is None:
                    log.warning("household %s: %s dropped: no face to encode again", household, rep.crop_key)
                    continue
                rep = Representative(encoding_row(encoding), rep.crop_key)
            kept.append(rep)
        return replace(stranger, representatives=tuple(kept))

    def _encode_crop(self, crop_key: str) -> np.ndarray | None:
        """A crop's face encoded as recognize encodes a frame's (quick), or None."""
        from facewatch.faces.encodings import describe_chips, face_crops
        from facewatch.recognize.known import largest_face

        try:
            image = decode_bgr(self.storage.get(crop_key).body, CROP_MAX_PIXELS)
        except (ObjectMissing, BadImage):
            return None
        box = largest_face(image)
        return None if box is None else describe_chips(face_crops(to_rgb(image), [box]).chips)[0]

    def claim_alert(
        self,
        household: str,
        stranger_id: str,
        visit_id: str | None,
        *,
        now: datetime,
        once_per: timedelta | None,
        no_alerts: Collection[str],
    ) -> HeldBack | None:
        """Whether this stranger's new visit may alert, decided and recorded in one swap, so
        two cameras seeing them at once cannot both alert: None, or the rule that holds it
        back."""

        def change(book: StrangerBook) -> tuple[StrangerBook, HeldBack | None]:
            # Forgotten or named meanwhile (found is None): judged by the rules alone.
            found = book.get(stranger_id)
            why = stranger_suppressed(
                stranger_id=stranger_id,
                visit_id=visit_id,
                alerted_at=found.alerted_at if found else None,
                alerted_visit=found.alerted_visit if found else None,
                now=now,
                once_per=once_per,
                no_alerts=no_alerts,
            )
            if found is None or why is not None or found.alerted_visit == visit_id:
                return book, why
            marked = replace(found, alerted_at=now, alerted_visit=visit_id)
            return StrangerBook([marked if s.stranger_id == stranger_id else s for s in book.strangers]), None

        return self.change(household, change)[2]

    def strangers(self, household: str, *, now: datetime, memory: timedelta) -> list[Stranger]:
        """The strangers still remembered, most recently seen first (read only)."""
        kept, _ = expire(self.load(household)[0].strangers, now, memory)
        return sorted(kept, key=lambda s: s.last_seen, reverse=True)

    def forget(self, household: str, stranger_id: str) -> Stranger:
        """Remove one stranger and their crops (after naming them)."""

        def change(book: StrangerBook) -> tuple[StrangerBook, list[Recall]]:
            if book.get(stranger_id) is None:
                raise BadInput(f"household {household} remembers no stranger {stranger_id!r}")
            return StrangerBook([s for s in book.strangers if s.stranger_id != stranger_id]), []

        before, _, _ = self.change(household, change)
        self._delete_crops(household, stranger_id)
        gone = before.get(stranger_id)
        assert gone is not None
        return gone

    def merge(self, household: str, keep_id: str, other_id: str) -> Stranger:
        """Make two remembered strangers one (strangers.merge_strangers), in one swap, and
        move other's crops under keep's id. The crops are copied before the swap, so the
        book never names a crop that is not there; other's folder is deleted after it (a
        crash in between leaves copies under keep's id, deleted with keep). The results of
        other's recent faces are rewritten to name keep, so naming one of them later names
        the whole person."""
        check_id(keep_id, "stranger id")
        check_id(other_id, "stranger id")
        if keep_id == other_id:
            raise BadInput(f"cannot merge {keep_id} with itself")
        book = self.load(household)[0]
        for sid in (keep_id, other_id):
            if book.get(sid) is None:
                raise BadInput(f"household {household} remembers no stranger {sid!r}")
        copied = self._copy_crops(household, other_id, keep_id)

        def change(book: StrangerBook) -> tuple[StrangerBook, tuple[Stranger, list[CropMove]]]:
            keep, other = book.get(keep_id), book.get(other_id)
            if keep is None or other is None:
                raise BadInput(
                    f"household {household} remembers no stranger {keep_id if keep is None else other_id!r}"
                )
            merged, moves = merge_strangers(household, keep, other)
            strangers = [
                merged if s.stranger_id == keep_id else s for s in book.strangers if s.stranger_id != other_id
            ]
            return StrangerBook(strangers), (merged, moves)

        before, _, (merged, moves) = self.change(household, change)
        for move in moves:  # a representative other gained after the copy above
            if move.target is not None and move.target not in copied:
                self._copy(move.source, move.target)
        referenced = set(merged.crop_keys)
        for target in copied:
            if target not in referenced:
                self.storage.delete(target)
        self._delete_crops(household, other_id)
        gone = before.get(other_id)
        if gone is not None:
            self._rename_in_results([s.verdict_id for s in gone.recent], other_id, keep_id)
        return merged

    def split(
        self, household: str, stranger_id: str, verdict_id: str, *, max_pixels: int = 40_000_000
    ) -> Stranger:
        """Take a face wrongly taken for a stranger out of them (strangers.split_stranger):
        it becomes a stranger of its own, and its frame's result names that one. A face kept
        only as a recent sighting is encoded again from its frame, as recognize encodes a
        stranger's face, and its crop cut from the frame. Returns the new stranger."""
        check_id(stranger_id, "stranger id")
        key, index = FrameKey.from_verdict_id(verdict_id)
        if key.household != household:
            raise BadInput(f"verdict {verdict_id} is not of household {household}")
        book = self.load(household)[0]
        new_id = split_stranger_id(verdict_id)
        done = book.get(new_id)
        if done is not None and any(s.verdict_id == verdict_id for s in done.recent):
            return done  # split before (a retry after a crash): the result is all that may be left
        stranger = book.get(stranger_id)
        if stranger is None:
            raise BadInput(f"household {household} remembers no stranger {stranger_id!r}")
        sighting, visit_id = self._sighting(stranger, key, index, verdict_id)
        rep_crop = stranger_crop_key(household, stranger_id, verdict_id)
        new_crop = stranger_crop_key(household, new_id, verdict_id)
        # Refused before anything is written or encoded (not theirs, their last face); the
        # swap below checks again against the book as it is then.
        split_stranger(household, stranger, sighting, visit_id=visit_id, encoding=np.zeros(128))
        encoding = None
        if rep_crop in stranger.crop_keys:
            self._copy(rep_crop, new_crop)
        else:
            encoding, crop = self._face_from_frame(sighting, max_pixels)
            self.storage.put(new_crop, crop, content_type="image/jpeg")

        def change(book: StrangerBook) -> tuple[StrangerBook, Stranger]:
            current = book.get(stranger_id)
            if current is None:
                raise BadInput(f"household {household} remembers no stranger {stranger_id!r}")
            left, alone, _ = split_stranger(
                household, current, sighting, visit_id=visit_id, encoding=encoding
            )
            strangers = [left if s.stranger_id == stranger_id else s for s in book.strangers]
            return StrangerBook([*strangers, alone]), alone

        try:
            _, _, alone = self.change(household, change)
        except BadInput:
            self.storage.delete(new_crop)  # refused: the crop written above belongs to nobody
            raise
        if not self.storage.exists(new_crop):  # it became a representative after the read above
            self._copy(rep_crop, new_crop)
        if self.storage.exists(rep_crop):
            self.storage.delete(rep_crop)
        self._rename_in_results([verdict_id], stranger_id, new_id)
        return alone

    def _sighting(
        self, stranger: Stranger, key: FrameKey, index: int, verdict_id: str
    ) -> tuple[StrangerSighting, str | None]:
        """The face as remembered, and its visit: from its frame's result (which a face
        kept only as a representative, past the recent ones, still has), else the book."""
        recent = next((s for s in stranger.recent if s.verdict_id == verdict_id), None)
        try:
            result = self.storage.get_json(key.result_key)
            face = (result.get("faces") or [])[index]
            box = Box(**face["box"]) if isinstance(face["box"], dict) else Box(*face["box"])
            return StrangerSighting(
                verdict_id,
                str(result["frame_key"]),
                str(result.get("camera") or key.camera),
                datetime.fromisoformat(str(result["captured_at"])),
                (box.x, box.y, box.w, box.h),
            ), face.get("visit_id")
        except (ObjectMissing, IndexError, KeyError, TypeError, ValueError):
            if recent is None:
                raise BadInput(f"{verdict_id} is not a face kept of {stranger.stranger_id}") from None
            return recent, None

    def _face_from_frame(self, sighting: StrangerSighting, max_pixels: int) -> tuple[np.ndarray, bytes]:
        """The face's quick encoding (what stranger memory compares) and its crop."""
        from facewatch.faces.crops import crop_face
        from facewatch.faces.encodings import describe_chips, face_crops

        try:
            image = decode_bgr(self.storage.get(sighting.frame_key).body, max_pixels)
        except ObjectMissing as exc:
            raise BadInput(f"{sighting.verdict_id} cannot be encoded again: its frame is gone") from exc
        box = Box(*sighting.box)
        return describe_chips(face_crops(to_rgb(image), [box]).chips)[0], crop_face(image, box)

    def _copy(self, source: str, target: str) -> None:
        try:
            body = self.storage.get(source).body
        except ObjectMissing:
            log.warning("crop %s is missing; %s not written", source, target)
            return
        self.storage.put(target, body, content_type="image/jpeg")

    def _copy_crops(self, household: str, from_id: str, to_id: str) -> set[str]:
        """Copy every crop of one stranger under another's id; returns the keys written."""
        written = set()
        target_prefix = stranger_crops_prefix(household, to_id)
        for source in list(self.storage.list_keys(stranger_crops_prefix(household, from_id))):
            target = f"{target_prefix}{source.rsplit('/', 1)[-1]}"
            if self.storage.exists(target):
                continue  # keep's own crop of the same face
            self._copy(source, target)
            written.add(target)
        return written

    def _rename_in_results(self, verdict_ids: Sequence[str], old_id: str, new_id: str) -> None:
        """Each of these faces' results says `new_id` where it said `old_id` (compare-and-
        swap: recognize may be rewriting the same result)."""
        for verdict_id in verdict_ids:
            try:
                key, index = FrameKey.from_verdict_id(verdict_id)
            except BadInput:
                continue
            set_face_fields(
                self.storage, key.result_key, index, {"stranger_id": new_id}, only_if={"stranger_id": old_id}
            )

    def _delete_crops(self, household: str, stranger_id: str) -> None:
        for key in list(self.storage.list_keys(stranger_crops_prefix(household, stranger_id))):
            self.storage.delete(key)


def set_face_fields(
    storage: Storage,
    result_key: str,
    index: int,
    fields: Mapping[str, Any],
    *,
    only_if: Mapping[str, Any] | None = None,
) -> bool:
    """Change some fields of one face of a frame's result by compare-and-swap; nothing when
    the result or the face is gone, or (`only_if`) the face no longer says what it did.
    Returns whether it was written."""

    def change(obj: StoredObject | None) -> tuple[bytes | None, bool]:
        if obj is None:
            return None, False
        try:
            result = json.loads(obj.body)
            face = result["faces"][index]
        except (ValueError, KeyError, IndexError, TypeError):
            return None, False
        if any(face.get(k) != v for k, v in (only_if or {}).items()):
            return None, False
        if all(face.get(k) == v for k, v in fields.items()):
            return None, False
        face.update(fields)
        written[:] = [result]
        return encode_json(result), True

    written: list[dict[str, Any]] = []
    done = storage.swap(result_key, change, content_type="application/json")
    if done:  # the console's summary follows the result (a merge or split relabels visits)
        from facewatch.recognize.day_index_store import DayIndexStore

        DayIndexStore(storage).record(result_key.split("/")[1], written)
    return done


def remembered_strangers(storage: Storage) -> Callable[[str], dict[str, Any]]:
    """A household's remembered strangers as their book's JSON, for readers outside
    recognize (retention keeps their recent sightings' frames)."""
    store = StrangerStore(storage)
    return lambda household: store.load(household)[0].to_dict()
