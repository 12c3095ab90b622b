"""A household's questions "Is this X?" (recognize/questions.py), kept in the bucket as one
JSON object changed only by compare-and-swap on its ETag, like the other books
(store/json_state.py), so recognize adding near-misses and the console taking an answer
never lose each other's change.

recognize calls `offer` only for a frame with a near-miss, and writes only when the book
changes: a near-miss counted for a candidate that already counts MAX_SUPPORT, or found
nothing new, costs nothing. The book this process last saw is kept for CACHE_SECONDS, so
such a frame is decided without reading the bucket; a change is tried on it with If-Match
(json_state's guess), so a stale copy costs one refused write and a read, never a lost
update. What recognize reads from a copy up to a minute old is only which question a face
counts for: an answer given on the console in that minute may be counted for once more."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from facewatch.exceptions import ObjectMissing
from facewatch.layout import questions_key
from facewatch.recognize import questions
from facewatch.recognize.questions import NearMiss, QuestionBook
from facewatch.records import Question
from facewatch.store.storage import Storage, StoredObject, encode_json

log = logging.getLogger(__name__)

T = TypeVar("T")

CACHE_SECONDS = 60.0
"""How long recognize decides frames on the book it last saw without reading it again."""


class QuestionStore:
    def __init__(
        self,
        storage: Storage,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.now = now
        self._seen: dict[str, tuple[float, str, QuestionBook]] = {}
        """Per household: when, the ETag and the book this process last read or wrote."""
        self._lock = threading.Lock()

    # --- reading ------------------------------------------------------------------------
    def load(self, household: str) -> tuple[QuestionBook, str | None]:
        try:
            obj = self.storage.get(questions_key(household))
        except ObjectMissing:
            return QuestionBook(), None
        return self._decode(household, obj), obj.etag

    def _decode(self, household: str, obj: StoredObject | None) -> QuestionBook:
        if obj is None:
            return QuestionBook()
        try:
            return QuestionBook.from_dict(json.loads(obj.body))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Questions are advice: an unreadable book starts afresh rather than stop a frame.
            log.error("household %s: questions unreadable (%s); starting afresh", household, exc)
            return QuestionBook()

    def waiting(self, household: str) -> Mapping[str, int]:
        """Per known person, how many questions about them wait for an answer."""
        return questions.waiting_by_person(self.load(household)[0], self.now())

    def waiting_questions(self, household: str) -> list[Question]:
        """The questions waiting, the most useful first."""
        return questions.waiting_questions(self.load(household)[0], self.now())

    def question_for(self, household: str, verdict_ids: Sequence[str]) -> Question | None:
        """The question waiting about one of these faces (the first of them asked about)."""
        by_face = {q.verdict_id: q for q in self.waiting_questions(household)}
        return next((by_face[v] for v in verdict_ids if v in by_face), None)

    # --- changing -----------------------------------------------------------------------
    def offer(
        self, household: str, misses: Sequence[NearMiss], *, now: datetime, same_person: float
    ) -> dict[int, Question]:
        """A frame's near-misses (questions.offer): per face index, the question it counts for."""
        if not misses:
            return {}

        def decide(book: QuestionBook) -> tuple[QuestionBook, dict[int, Question]]:
            return questions.offer(book, misses, household=household, now=now, same_person=same_person)

        return self._change(household, decide)

    def answer(self, household: str, question_id: str, *, same_person: float) -> Question:
        """Take the question out of the book (what its answer teaches is done after, by the caller:
        of two answers at once, only the one that took it teaches)."""

        def decide(book: QuestionBook) -> tuple[QuestionBook, Question]:
            return questions.answer(book, question_id, now=self.now(), same_person=same_person)

        return self._change(household, decide, cached=False)

    def _change(
        self,
        household: str,
        decide: Callable[[QuestionBook], tuple[QuestionBook, T]],
        *,
        cached: bool = True,
    ) -> T:
        key = questions_key(household)
        seen = self._recent(household) if cached else None
        if seen is not None:
            after, result = decide(seen[1])
            if after == seen[1]:
                return result
        guess = None if seen is None else StoredObject(key, b"", seen[0], {})

        def swap(obj: StoredObject | None) -> tuple[bytes | None, tuple[QuestionBook, T]]:
            before = seen[1] if seen is not None and obj is guess else self._decode(household, obj)
            after, result = decide(before)
            body = None if after == before else encode_json(after.to_dict(), compact=True)
            return body, (after, result)

        (after, result), etag = self.storage.swap_from(key, swap, guess, content_type="application/json")
        if etag is not None:
            with self._lock:
                self._seen[household] = (self.clock(), etag, after)
        return result

    def _recent(self, household: str) -> tuple[str, QuestionBook] | None:
        with self._lock:
            seen = self._seen.get(household)
        if seen is None or self.clock() - seen[0] > CACHE_SECONDS:
            return None
        return seen[1], seen[2]
