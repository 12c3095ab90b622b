"""A household's JSON "book" in the bucket (its visits, its remembered strangers): one object,
read whole, changed only by compare-and-swap on its ETag (`Storage.swap`), so concurrent
recognize invocations never lose each other's updates. A book that cannot be read is
logged and started afresh: a corrupt state object must never stop alerts.

A store may keep the books it wrote last (`keep_bytes`; recognize's do): the next change is
tried on the kept book, written with If-Match on the ETag it was written as, without
reading it first. Another writer's version in between makes that write fail, and the change
is redone on the book read, as any lost race is: the server's conditional write stays the
only coordination, the kept copy only saves the read (and the JSON decoding) when this
process was the last writer, which it usually is for the households it is sent. Where it is
not (many instances writing one household's book by turns), a refused try costs a write, so
after one the next `GUESS_PAUSE` changes of that book read first."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from facewatch.exceptions import ObjectMissing
from facewatch.store.storage import Storage, StoredObject, encode_json

log = logging.getLogger(__name__)


class Book(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


B = TypeVar("B", bound=Book)
T = TypeVar("T")

GUESS_PAUSE = 8
"""Changes of a book that read it first after a try on the kept copy was refused: with
writers taking turns a wasted write is then at most one change in nine."""


class BookStore(Generic[B]):
    """Subclasses name the book: its key, how to make an empty one and read a stored one."""

    what = "book"
    """What the book is, for log lines."""

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
        """Keep the books last written, up to this many bytes of their JSON (least recently
        used dropped first); 0 keeps none and reads the book before every change."""
        self._kept: OrderedDict[str, tuple[str, B, int]] = OrderedDict()
        self._kept_size = 0
        self._reads_left: dict[str, int] = {}
        """Per book refused lately: how many changes still read before trying a kept copy."""
        self._kept_lock = threading.Lock()

    def key(self, household: str) -> str:
        raise NotImplementedError

    def empty(self) -> B:
        raise NotImplementedError

    def decode(self, data: dict[str, Any]) -> B:
        raise NotImplementedError

    def load(self, household: str) -> tuple[B, str | None]:
        """The stored book (empty if there is none) and its ETag."""
        try:
            obj = self.storage.get(self.key(household))
        except ObjectMissing:
            return self.empty(), None
        return self._read(household, obj), obj.etag

    def _read(self, household: str, obj: StoredObject | None) -> B:
        if obj is None:
            return self.empty()
        try:
            return self.decode(json.loads(obj.body))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: not an object
            log.error("household %s: %s unreadable (%s); starting a new one", household, self.what, exc)
            return self.empty()

    def change(self, household: str, change: Callable[[B], tuple[B, T]]) -> tuple[B, B, T]:
        """Apply `change` to the stored book, atomically (redone on a conflict with another
        writer); returns (book before, book after, what `change` returned). `change` may
        be called more than once, each time on a book of its own."""
        key = self.key(household)
        kept = self._take(key)
        guess = None if kept is None else StoredObject(key, b"", kept[0], {})

        on_guess = [False]  # whether the attempt that won was the one on the kept copy

        def swap(obj: StoredObject | None) -> tuple[bytes, tuple[B, B, T, int]]:
            on_guess[0] = kept is not None and obj is guess
            before = kept[1] if kept is not None and obj is guess else self._read(household, obj)
            after, result = change(before)
            body = encode_json(after.to_dict(), compact=True)
            return body, (before, after, result, len(body))

        (before, after, result, size), etag = self.storage.swap_from(
            key, swap, guess, content_type="application/json", attempts=self.attempts, pause=self.pause
        )
        if guess is not None and not on_guess[0]:
            self._refused(key)
        if etag is not None:
            self._keep(key, etag, after, size)
        return before, after, result

    # --- the books kept (all under the lock: a function serves requests in threads) -------
    def _take(self, key: str) -> tuple[str, B, int] | None:
        """The kept book, removed while a change is tried on it: a change may alter the book
        it is given, and a failed write must not leave an altered book kept under an ETag
        that still names the stored version."""
        with self._kept_lock:
            kept = self._kept.pop(key, None)
            if kept is not None:
                self._kept_size -= kept[2]
            left = self._reads_left.get(key, 0)
            if left > 0:
                self._reads_left[key] = left - 1
                return None
            self._reads_left.pop(key, None)
            return kept

    def _refused(self, key: str) -> None:
        with self._kept_lock:
            self._reads_left[key] = GUESS_PAUSE

    def _keep(self, key: str, etag: str, book: B, size: int) -> None:
        if size > self.keep_bytes:
            return
        with self._kept_lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._kept_size -= old[2]
            self._kept[key] = (etag, book, size)
            self._kept_size += size
            while self._kept_size > self.keep_bytes:
                _, (_, _, dropped) = self._kept.popitem(last=False)
                self._kept_size -= dropped
