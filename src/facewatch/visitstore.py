"""A household's stranger visits, kept in the bucket as one JSON object and changed only
by compare-and-swap on its ETag, so concurrent recognize invocations never lose an update
nor both decide to alert. Needs an S3 server with conditional writes (AWS S3, MinIO,
moto; If-Match/If-None-Match on PUT)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from facewatch.exceptions import ObjectMissing, StorageError, WriteConflict
from facewatch.layout import visits_key
from facewatch.storage import Storage
from facewatch.visits import Assignment, Sighting, VisitBook, VisitPolicy, assign

log = logging.getLogger(__name__)


class VisitStore:
    def __init__(
        self, storage: Storage, *, attempts: int = 25, pause: Callable[[float], None] = time.sleep
    ) -> None:
        self.storage = storage
        self.attempts = attempts
        self.pause = pause

    def _load(self, household: str) -> tuple[VisitBook, str | None]:
        try:
            obj = self.storage.get(visits_key(household))
        except ObjectMissing:
            return VisitBook(), None
        try:
            return VisitBook.from_dict(json.loads(obj.body)), obj.etag
        except (ValueError, KeyError, TypeError) as exc:
            # A corrupt book must not stop alerts: start afresh (worst case: one extra alert).
            log.error("household %s: visit state unreadable (%s); starting a new one", household, exc)
            return VisitBook(), obj.etag

    def record(
        self,
        household: str,
        sightings: Sequence[tuple[Sighting, str, str]],
        *,
        now: datetime,
        policy: VisitPolicy,
    ) -> list[Assignment]:
        """Place each (sighting, new_visit_id, alert_id) and store the book, atomically."""
        for attempt in range(self.attempts):
            book, etag = self._load(household)
            visits = book.visits
            results = []
            for sighting, visit_id, alert_id in sightings:
                visits, result = assign(
                    sighting, visits, now=now, policy=policy, new_visit_id=visit_id, alert_id=alert_id
                )
                results.append(result)
            body = VisitBook(visits).to_dict()
            try:
                if etag is None:
                    self.storage.put_json(visits_key(household), body, if_none_match=True)
                else:
                    self.storage.put_json(visits_key(household), body, if_match=etag)
                return results
            except WriteConflict:
                # Another invocation changed the book: read it again and redo our part.
                self.pause(random.uniform(0.01, 0.05) * (attempt + 1))
        raise StorageError(f"household {household}: visit state too contended ({self.attempts} attempts)")
