"""A household's stranger visits, kept in the bucket as one JSON object and changed only
by compare-and-swap on its ETag, so concurrent recognize invocations never lose an update
nor both decide to alert. Needs an S3 server with conditional writes (AWS S3, MinIO,
moto; If-Match/If-None-Match on PUT)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from facewatch.layout import visits_key
from facewatch.recognize.track_evidence import Answer, Judge, TrackFace
from facewatch.recognize.visits import Assignment, Sighting, VisitBook, VisitPolicy, Vote, place
from facewatch.records import HeldBack
from facewatch.store.json_state import BookStore


class VisitStore(BookStore[VisitBook]):
    what = "visit state"  # unreadable: start afresh (worst case: one extra alert)

    def key(self, household: str) -> str:
        return visits_key(household)

    def empty(self) -> VisitBook:
        return VisitBook()

    def decode(self, data: dict[str, Any]) -> VisitBook:
        return VisitBook.from_dict(data)

    def record(
        self,
        household: str,
        sightings: Sequence[tuple[Sighting, str, str]],
        *,
        now: datetime,
        policy: VisitPolicy,
        votes: Sequence[Vote] = (),
        away: HeldBack | None = None,
    ) -> list[Assignment]:
        """Record the frame's track votes and place each (sighting, new_visit_id, alert_id)
        (`visits.place`; `away`: the away switch's answer for new visits), atomically: on a
        conflict with another invocation the book is read again and our part redone."""
        return self.record_frame(household, sightings, now=now, policy=policy, votes=votes, away=away)[0]

    def record_frame(
        self,
        household: str,
        sightings: Sequence[tuple[Sighting, str, str]],
        *,
        now: datetime,
        policy: VisitPolicy,
        votes: Sequence[Vote] = (),
        away: HeldBack | None = None,
        faces: Sequence[TrackFace] = (),
        judge: Judge | None = None,
    ) -> tuple[list[Assignment], dict[str, Answer]]:
        """`record`, with the frame's tracked faces also counted in their tracks' running
        encodings, judged by `judge`; returns also what each face's track evidence answered
        (by face key; track_evidence.beside_track reads it)."""
        _, after, results = self.change(
            household,
            lambda book: place(
                book, sightings, votes, now=now, policy=policy, away=away, faces=faces, judge=judge
            ),
        )
        answers = {f.face_key: after.answer(f.track_key, f.face_key) for f in faces}
        return results, {key: answer for key, answer in answers.items() if answer is not None}
