"""`facewatch household import`: an export (archive.py) brought into this deployment, under
the household id it was exported with. Refused whole, with nothing written, when the zip
does not match its manifest, or when the household already has anything here (unless
`replace`: then what it has is deleted first).

Order matters on a deployment whose bucket notifies recognize: settings and known photos
first (the known encodings are made again here, with this deployment's model), the state
books and strangers' crops, the verdicts, and the frames last, so each frame's event finds
its verdict already there and is a duplicate (the same bytes have the same ETag), not a
new stranger alerting again. Negatives of another model's format are encoded again from
those frames afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO

from facewatch.exceptions import BadInput, BadKey
from facewatch.layout import FrameKey, household_prefix
from facewatch.store.storage import Storage
from facewatch.tenant.archive import VERDICTS, Archive, open_archive
from facewatch.tenant.erase import delete_prefix
from facewatch.tenant.export import LEFT_OUT


@dataclass(frozen=True, slots=True)
class Imported:
    household: str
    objects: int
    verdicts: int
    known_photos: int
    replaced: int
    """Objects the household had here before, deleted (`replace`)."""


def _order(name: str) -> int:
    for rank, start in enumerate(
        ("settings.json", "known/", "strangers/", "state/", "negatives.npz", "alerts/")
    ):
        if name.startswith(start):
            return rank
    return 7 if name.startswith("frames/") else 6


def import_household(
    storage: Storage,
    source: IO[bytes] | str,
    max_pixels: int,
    *,
    replace: bool = False,
    expected: str | None = None,
) -> Imported:
    """`expected`: the household the zip must be of (its manifest says which it is, and the
    household whose data `replace` deletes must not be the zip's choice)."""
    from facewatch.recognize.known import rebuild_gallery
    from facewatch.recognize.negatives import refresh_negatives

    archive = open_archive(source)
    household = archive.household
    if expected is not None and household != expected:
        raise BadInput(f"the zip is an export of household {household}, not {expected}: nothing imported")
    planted = [n for n in archive.names() if n.startswith(LEFT_OUT)]
    if planted:
        # Sessions, used links, sends in progress only work where they were made, the report
        # page and the encodings are made here: an export never holds them.
        raise BadInput(f"the zip holds {planted[0]}, which an export never holds: nothing imported")
    _check_settings(archive)
    prefix = household_prefix(household)
    verdicts = _verdicts(archive)
    replaced = 0
    if next(iter(storage.list_keys(prefix)), None) is not None:
        if not replace:
            raise BadInput(
                f"household {household} already has data in this deployment: nothing imported "
                "(--replace deletes what it has here first)"
            )
        replaced = delete_prefix(storage, prefix)
    files = sorted((n for n in archive.names() if n != VERDICTS), key=lambda n: (_order(n), n))
    frames = [n for n in files if n.startswith("frames/")]
    before = [n for n in files if not n.startswith("frames/")]
    for name in before:
        _put(storage, archive, prefix, name)
    known = sum(n.startswith("known/") for n in files)
    if known:
        rebuild_gallery(storage, household, max_pixels)
    for result_key, body in verdicts:
        storage.put(result_key, body, content_type="application/json")
    for name in frames:
        _put(storage, archive, prefix, name)
    refresh_negatives(storage, household, max_pixels)
    return Imported(household, len(files), len(verdicts), known, replaced)


def _put(storage: Storage, archive: Archive, prefix: str, name: str) -> None:
    entry = archive.entries[name]
    storage.put(prefix + name, archive.read(name), content_type=entry.content_type, metadata=entry.metadata)


def _verdicts(archive: Archive) -> list[tuple[str, bytes]]:
    """Each verdict line as (its result key, the JSON to store): a line of another
    household, or that is not a verdict on a frame, refuses the import."""
    out: list[tuple[str, bytes]] = []
    body = archive.read(VERDICTS) if VERDICTS in archive.entries else b""
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
            key = FrameKey.parse(str(result["frame_key"]))
        except (ValueError, KeyError, TypeError, BadKey) as exc:
            raise BadInput(f"{VERDICTS} line {number} is not a verdict: {exc}") from None
        if key.household != archive.household:
            raise BadInput(
                f"{VERDICTS} line {number} is of household {key.household}, not {archive.household}"
            )
        out.append((key.result_key, json.dumps(result, indent=1, sort_keys=True).encode()))
    return out


def _check_settings(archive: Archive) -> None:
    """Settings every function of the household reads: ones that do not parse would stop
    its alerts after the import, so they stop the import instead."""
    from pydantic import ValidationError

    from facewatch.household.settings import HouseholdSettings

    if "settings.json" not in archive.entries:
        return
    try:
        HouseholdSettings.model_validate_json(archive.read("settings.json"), context={"stored": True})
    except ValidationError as exc:
        raise BadInput(
            f"the zip's settings.json is invalid ({exc.errors()[0]['msg']}): nothing imported"
        ) from None
