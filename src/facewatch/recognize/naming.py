"""Naming a remembered stranger: every face crop kept of them becomes a known photo in one
enrollment, and then they are forgotten."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from facewatch.exceptions import BadInput, ObjectMissing
from facewatch.layout import known_prefix
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import (
    Stranger,
)
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


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
