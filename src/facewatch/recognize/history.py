"""`facewatch events`: every verdict a household's frames got, oldest first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from facewatch.exceptions import BadInput
from facewatch.layout import results_prefix
from facewatch.records import AlertOutcome
from facewatch.store.storage import Storage

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """'90m', '2h', '7d' back from now, or an ISO 8601 date/time (UTC if no zone)."""
    if not value:
        return None
    match = _RELATIVE.fullmatch(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"--since {value!r}: use e.g. 2h, 7d or 2026-11-25T08:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _said(alert: Any) -> str | None:
    """A face's alert as `events` has always shown it, whichever version wrote it."""
    outcome = AlertOutcome.read(alert)
    return None if outcome is None else str(outcome)


def _day_of(key: str) -> str:
    return key.split("/")[-2]


def verdict_rows(storage: Storage, household: str, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """One row per judged face (or per frame that could not be judged)."""
    first_day = since.astimezone(UTC).strftime("%Y%m%d") if since else ""
    keys = [k for k in storage.list_keys(results_prefix(household)) if _day_of(k) >= first_day]
    rows = []
    for key in keys:
        result = storage.get_json(key)
        captured = result.get("captured_at") or result.get("at")
        if since and captured and datetime.fromisoformat(str(captured)) < since:
            continue
        base = {"captured_at": captured, "camera": key.split("/")[3], "frame_key": result.get("frame_key")}
        if "error" in result:
            rows.append({**base, "verdict": "error", "reason": result["error"]})
        for face in result.get("faces", []) or [{"verdict": "no face"}]:
            rows.append(
                {
                    **base,
                    "verdict": face.get("verdict"),
                    "name": face.get("name"),
                    "distance": face.get("distance"),
                    "verdict_id": face.get("verdict_id"),
                    "visit_id": face.get("visit_id"),
                    "stranger_id": face.get("stranger_id"),
                    "alert": _said(face.get("alert")),
                    "reason": face.get("reason"),
                    "looked_again": face.get("looked_again"),
                }
            )
    rows.sort(key=lambda r: str(r["captured_at"]))
    yield from rows
