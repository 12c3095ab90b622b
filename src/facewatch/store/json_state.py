"""A household's JSON "book" in the bucket (its visits, its remembered strangers): one object,
read whole, changed only by compare-and-swap on its ETag (`Storage.swap`), so concurrent
recognize invocations never lose each other's updates. A book that cannot be read is
logged and started afresh: a corrupt state object must never stop alerts."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from facewatch.exceptions import ObjectMissing
from facewatch.store.storage import Storage, StoredObject, encode_json

log = logging.getLogger(__name__)


class Book(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


B = TypeVar("B", bound=Book)
T = TypeVar("T")


class BookStore(Generic[B]):
    """Subclasses name the book: its key, how to make an empty one and read a stored one."""

    what = "book"
    """What the book is, for log lines."""

    def __init__(
        self, storage: Storage, *, attempts: int = 25, pause: Callable[[float], None] = time.sleep
    ) -> None:
        self.storage = storage
        self.attempts = attempts
        self.pause = pause

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
        writer); returns (book before, book after, what `change` returned)."""

        def swap(obj: StoredObject | None) -> tuple[bytes, tuple[B, B, T]]:
            before = self._read(household, obj)
            after, result = change(before)
            return encode_json(after.to_dict(), compact=True), (before, after, result)

        return self.storage.swap(
            self.key(household),
            swap,
            content_type="application/json",
            attempts=self.attempts,
            pause=self.pause,
        )
