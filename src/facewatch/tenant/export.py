"""`facewatch household export`: everything of one household a person would want back, as
one zip (archive.py): known people with their photos, remembered strangers with their face
crops, settings and rules, visits, the verdicts as JSON lines, the frames they were judged
in, and the alerts' records. Left out: what only works here or is made again from the
rest (console sessions, used links, sends in progress, the report page, the known
encodings, which the importing deployment encodes again with its own model).

The state books are read first: everything they name was stored before them, so it is in
the export (the frames and verdicts listed afterwards may be newer than the books, never
older)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from facewatch.exceptions import BadInput, ObjectMissing
from facewatch.layout import household_prefix, results_prefix
from facewatch.store.storage import Storage
from facewatch.tenant.archive import VERDICTS, Writer

LEFT_OUT = ("sessions/", "links/", "alerts/claims/", "report/", "encodings.npz")
BOOKS_FIRST = ("settings.json", "state/", "negatives.npz")


@dataclass(frozen=True, slots=True)
class Exported:
    household: str
    files: int
    verdicts: int
    bytes: int


def export_household(
    storage: Storage, household: str, out: IO[bytes], now: datetime | None = None
) -> Exported:
    prefix = household_prefix(household)
    keys = list(storage.list_keys(prefix))
    if not keys:
        raise BadInput(f"household {household} has nothing in the bucket: nothing to export")
    writer = Writer(out, household, (now or datetime.now(UTC)).isoformat())
    kept = [k for k in keys if not k.removeprefix(prefix).startswith(LEFT_OUT)]
    first = [k for k in kept if k.removeprefix(prefix).startswith(BOOKS_FIRST)]
    results = results_prefix(household)
    rest = [k for k in storage.list_keys(prefix) if k not in first and not k.startswith(results)]
    rest = [k for k in rest if not k.removeprefix(prefix).startswith(LEFT_OUT)]
    size = 0
    for key in [*first, *rest]:
        try:
            obj = storage.get(key)
        except ObjectMissing:
            continue  # removed since listed (a sign-out, a stranger forgotten)
        writer.add(
            key.removeprefix(prefix), obj.body, obj.content_type or "application/octet-stream", obj.metadata
        )
        size += len(obj.body)
    lines: list[bytes] = []
    for key in storage.list_keys(results):
        try:
            lines.append(json.dumps(storage.get_json(key), sort_keys=True).encode())
        except ObjectMissing:
            continue
    body = b"".join(line + b"\n" for line in lines)
    writer.add(VERDICTS, body, "application/x-ndjson")
    writer.close()
    return Exported(household, len(writer.entries), len(lines), size + len(body))
