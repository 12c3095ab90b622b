"""A household's remembered strangers in the bucket: one JSON object changed only by
compare-and-swap on its ETag (as visitstore.py), face crops beside it, naming a stranger
(all their crops become known photos in one step), and the `strangers` and
`name-stranger` commands."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import cv2
import numpy as np

from facewatch.exceptions import BadImage, BadInput, FacewatchError, ObjectMissing
from facewatch.faces.encodings import GALLERY_FORMAT
from facewatch.frames import Box
from facewatch.images import decode_bgr, encode_jpeg, to_rgb
from facewatch.layout import known_prefix, stranger_crops_prefix, strangers_key
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
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

CROP_MAX_PIXELS = 4_000_000
"""Crops are facewatch's own small JPEGs; anything larger under their keys is not one."""
CROP_MIN_WIDTH = 160
"""Crops are upscaled to at least this width so HOG (80 px window) finds the face again
when a named stranger's crops are enrolled."""


def crop_face(image_bgr: np.ndarray, box: Box, quality: int = 92) -> bytes:
    """The face with a generous margin, as JPEG: the detector that enrolls it needs context."""
    height, width = image_bgr.shape[:2]
    margin = int(max(box.w, box.h) * 0.6)
    x0, y0 = max(0, box.x - margin), max(0, box.y - margin)
    x1, y1 = min(width, box.x + box.w + margin), min(height, box.y + box.h + margin)
    crop = image_bgr[y0:y1, x0:x1]
    if crop.shape[1] < CROP_MIN_WIDTH:
        scale = CROP_MIN_WIDTH / crop.shape[1]
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return encode_jpeg(crop, quality)


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


@dataclass(frozen=True, slots=True)
class Naming:
    stranger: Stranger
    name: str
    photos: int
    learned: int


def name_stranger(
    storage: Storage,
    household: str,
    stranger_id: str,
    name: str,
    max_pixels: int,
    extra: Sequence[tuple[str, bytes]] = (),
) -> Naming:
    """Enroll every face crop kept of a stranger as photos of `name` (one gallery rebuild),
    then forget the stranger. If no crop yields a face, nothing changes. Running it again
    after a crash between the two steps is harmless: the same photos are written again."""
    from facewatch.layout import check_person
    from facewatch.recognize.known import enroll

    check_person(name)
    store = StrangerStore(storage)
    stranger = store.load(household)[0].get(stranger_id)
    if stranger is None:
        raise BadInput(f"household {household} remembers no stranger {stranger_id!r}")
    photos = [(f"{stranger_id}-{filename}", data) for filename, data in extra]
    for i, key in enumerate(stranger.crop_keys):
        try:
            photos.append((f"{stranger_id}-{i}.jpg", storage.get(key).body))
        except ObjectMissing:
            log.warning("%s: crop %s is missing", stranger_id, key)
    if not photos:
        raise BadInput(f"{stranger_id} has no face crops left to learn from")
    gallery = enroll(storage, household, name, photos, max_pixels)
    ours = f"{known_prefix(household, name)}{stranger_id}-"
    learned = sum(k.startswith(ours) for k in gallery.photo_keys)
    if learned == 0:
        raise BadInput(f"no face could be learned from {stranger_id}'s crops; it is still remembered")
    store.forget(household, stranger_id)
    return Naming(stranger, name, len(photos), learned)


# --- commands -----------------------------------------------------------------------------


def _fail(exc: FacewatchError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def strangers_command(household: str, as_json: bool) -> None:
    """List the strangers a household remembers: first and last seen, visits, sightings."""
    from rich.console import Console
    from rich.table import Table

    from facewatch.config import get_settings
    from facewatch.layout import check_id

    settings = get_settings()
    try:
        check_id(household, "household")
        found = StrangerStore(Storage.from_settings(settings)).strangers(
            household, now=datetime.now(UTC), memory=timedelta(days=settings.stranger_memory_days)
        )
    except FacewatchError as exc:
        _fail(exc)
        return
    if as_json:
        for stranger in found:
            click.echo(json.dumps(stranger.summary()))
        return
    table = Table("stranger", "first seen", "last seen", "visits", "sightings", "cameras")
    for s in found:
        table.add_row(
            s.stranger_id,
            s.first_seen.isoformat()[:19],
            s.last_seen.isoformat()[:19],
            str(s.visits),
            str(s.sightings),
            ", ".join(s.cameras),
        )
    # Piped output is read by programs and people alike: never cut it to 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--stranger", "stranger_id", required=True, help="The stranger's id (facewatch strangers).")
@click.option("--name", required=True, help="Who they are, as alerts should show it.")
def name_stranger_command(household: str, stranger_id: str, name: str) -> None:
    """Make a remembered stranger a known person: all their face crops are enrolled at once."""
    from facewatch.config import get_settings
    from facewatch.layout import check_id

    settings = get_settings()
    try:
        check_id(household, "household")
        check_id(stranger_id, "stranger id")
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        naming = name_stranger(storage, household, stranger_id, name, settings.max_image_pixels)
    except FacewatchError as exc:
        _fail(exc)
        return
    click.echo(
        f"{stranger_id} is now {name}: {naming.learned} of {naming.photos} face crop(s) learned "
        f"({naming.stranger.visits} visit(s), {naming.stranger.sightings} sighting(s))"
    )
