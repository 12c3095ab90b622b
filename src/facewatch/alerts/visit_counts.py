"""The household's alerted visits of the day (its local day), kept in the bucket by
compare-and-swap for Home Assistant's "Stranger visits today": each alert counted once,
however often it is sent again."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from facewatch.alerts.home_assistant import TodayCount, visit_kind
from facewatch.layout import visits_today_key
from facewatch.records import Alert
from facewatch.store.storage import Storage, StoredObject


def count_visit(storage: Storage, alert: Alert, timezone: str) -> TodayCount:
    """Count the alert in its local day's totals (a new day starts from nothing)."""
    day = alert.captured_at.astimezone(ZoneInfo(timezone)).date()
    kind = visit_kind(alert)

    def change(stored: StoredObject | None) -> tuple[bytes | None, TodayCount]:
        data = json.loads(stored.body) if stored is not None else {}
        if data.get("date") != day.isoformat():
            if stored is not None and date.fromisoformat(data.get("date", "1970-01-01")) > day:
                # A late alert of an earlier day: today's count is not its.
                return None, _count(data)
            data = {"date": day.isoformat(), "strangers": [], "known": []}
        seen: list[str] = data["strangers" if kind == "stranger" else "known"]
        if alert.alert_id in seen:
            return None, _count(data)
        seen.append(alert.alert_id)
        return json.dumps(data).encode(), _count(data)

    return storage.swap(visits_today_key(alert.household), change, content_type="application/json")


def _count(data: dict[str, Any]) -> TodayCount:
    return TodayCount(date.fromisoformat(data["date"]), len(data["strangers"]), len(data["known"]))
