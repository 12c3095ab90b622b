"""A household's stranger visits, kept in the bucket as one JSON object and changed only
by compare-and-swap on its ETag, so concurrent recognize invocations never lose an update
nor both decide to alert. Needs an S3 server with conditional writes (AWS S3, MinIO,
moto; If-Match/If-None-Match on PUT)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from facewatch.layout import visits_key
from facewatch.storage import Storage, StoredObject, encode_json
from facewatch.visits import Assignment, Sighting, VisitBook, VisitPolicy, Vote, place

log = logging.getLogger(__name__)


class VisitStore:
    def __init__(
        self, storage: Storage, *, attempts: int = 25, pause: Callable[[float], None] = time.sleep
    ) -> None:
        self.storage = storage
        self.attempts = attempts
        self.pause = pause

    def _book(self, household: str, obj: StoredObject | None) -> VisitBook:
        if obj is None:
            return VisitBook()
        try:
            return VisitBook.from_dict(json.loads(obj.body))
        except (ValueError, KeyError, TypeError) as exc:
            # A corrupt book must not stop alerts: start afresh (worst case: one extra alert).
            log.error("household %s: visit state unreadable (%s); starting a new one", household, exc)
            return VisitBook()

    def record(
        self,
        household: str,
        sightings: Sequence[tuple[Sighting, str, str]],
        *,
        now: datetime,
        policy: VisitPolicy,
        votes: Sequence[Vote] = (),
    ) -> list[Assignment]:
        """Record the frame's track votes and place each (sighting, new_visit_id, alert_id)
        (`visits.place`), atomically: on a conflict with another invocation the book is read
        again and our part redone."""

        def change(obj: StoredObject | None) -> tuple[bytes, list[Assignment]]:
            book, results = place(self._book(household, obj), sightings, votes, now=now, policy=policy)
            return encode_json(book.to_dict()), results

        return self.storage.swap(
            visits_key(household),
            change,
            content_type="application/json",
            attempts=self.attempts,
            pause=self.pause,
        )
