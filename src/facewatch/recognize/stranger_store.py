"""A household's remembered strangers in the bucket: one JSON object changed only by
compare-and-swap on its ETag (as visit_store.py), with their face crops beside it. Naming
one is naming.py's; the commands are cli/strangers.py's."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from facewatch.alerts.rules import stranger_suppressed
from facewatch.exceptions import BadImage, BadInput, ObjectMissing
from facewatch.faces.gallery import GALLERY_FORMAT
from facewatch.images import decode_bgr, to_rgb
from facewatch.layout import stranger_crops_prefix, strangers_key
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.strangers import (
    NewSighting,
    Recall,
    Representative,
    Stranger,
    StrangerBook,
    encoding_row,
    expire,
    remember,
)
from facewatch.store.json_state import BookStore

log = logging.getLogger(__name__)

CROP_MAX_PIXELS = 4_000_000
"""Crops are facewatch's own small JPEGs; anything larger under their keys is not one."""


class StrangerStore(BookStore[StrangerBook]):
    what = "stranger memory"  # unreadable: start afresh (strangers are "first seen" again)

    def key(self, household: str) -> str:
        return strangers_key(household)

    def empty(self) -> StrangerBook:
        return StrangerBook()

    def decode(self, data: dict[str, Any]) -> StrangerBook:
        return StrangerBook.from_dict(data)

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
    ) -> str | None:
        """Whether this stranger's new visit may alert, decided and recorded in one swap, so
        two cameras seeing them at once cannot both alert: None, or why not."""

        def change(book: StrangerBook) -> tuple[StrangerBook, str | None]:
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

    def _delete_crops(self, household: str, stranger_id: str) -> None:
        for key in list(self.storage.list_keys(stranger_crops_prefix(household, stranger_id))):
            self.storage.delete(key)


# --- commands -----------------------------------------------------------------------------
