"""A household's alert rules, as plain functions of plain data (no clock, no I/O):

- quiet hours per channel, in the household's time zone: email silent at night while MQTT
  still tells Home Assistant, say. A window may cross midnight ("22:00-07:00"); it is read
  on the local wall clock, so it keeps its hours across daylight-saving changes;
- at most one alert per stranger per N hours, across all cameras;
- "no alerts" for a remembered stranger (a neighbour, the postman) or a named person;
- "arrived" notices for named people who ask for them (off by default): once per visit;
- the away switch: a household disarmed ("we are home") gets no stranger alerts.

Every rule that holds an alert back answers with a records.HeldBack: which rule it is (code
branches on that, the metrics label it) and why, in words `facewatch events` shows."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from facewatch.exceptions import BadInput
from facewatch.records import HeldBack, HeldBackBy

_WINDOW = re.compile(r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}")


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """'HH:MM-HH:MM', e.g. '22:00-07:00' (across midnight) or '13:00-14:00'."""
        try:
            if not _WINDOW.fullmatch(text.strip()):
                raise ValueError(text)
            start, end = (time.fromisoformat(part.strip().zfill(5)) for part in text.split("-"))
        except ValueError:
            raise BadInput(f"quiet hours {text!r} are not HH:MM-HH:MM, e.g. 22:00-07:00") from None
        if start == end:
            raise BadInput(f"quiet hours {text!r} start and end at the same time")
        return cls(start, end)

    def covers(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def quiet_reason(window: str | None, channel: str, at: datetime, timezone: str) -> HeldBack | None:
    """Why `channel`, quiet during `window`, stays silent for something seen at `at`
    (aware), or None."""
    if not window:
        return None
    hours = QuietHours.parse(window)
    local = at.astimezone(ZoneInfo(timezone))
    if hours.covers(local.time().replace(tzinfo=None)):
        return HeldBack(by=HeldBackBy.QUIET_HOURS, detail=f"quiet hours {hours} ({timezone}) on {channel}")
    return None


def stranger_suppressed(
    *,
    stranger_id: str,
    visit_id: str | None,
    alerted_at: datetime | None,
    alerted_visit: str | None,
    now: datetime,
    once_per: timedelta | None,
    no_alerts: Collection[str],
) -> HeldBack | None:
    """Why a new visit of this stranger does not alert, or None. The visit that alerted
    last gets the same answer again, so a redelivered frame alerts as it did the first time."""
    if stranger_id in no_alerts:
        return HeldBack(by=HeldBackBy.NO_ALERTS, detail=f"{stranger_id} is marked no alerts")
    if once_per is None or alerted_at is None or visit_id == alerted_visit:
        return None
    since = now - alerted_at
    if since < once_per:
        hours = once_per.total_seconds() / 3600
        ago = since.total_seconds() / 3600
        detail = f"{stranger_id} alerted {ago:.1f} h ago (at most once per {hours:g} h)"
        return HeldBack(by=HeldBackBy.ONCE_PER_HOURS, detail=detail)
    return None


def arrival_due(
    name: str,
    *,
    frame_key: str,
    last_seen: datetime | None,
    announced_frame: str | None,
    now: datetime,
    window: timedelta,
    arrivals: Collection[str],
    no_alerts: Collection[str],
) -> bool:
    """Whether seeing `name` now is an arrival to announce: the household asked for theirs,
    and they were not seen within `window` (one visit, one notice). The frame that
    announced it is an arrival again, for a redelivered frame."""
    if name not in arrivals or name in no_alerts:
        return False
    if frame_key == announced_frame:
        return True
    return last_seen is None or now - last_seen > window


DISARMED_DETAIL = "the household is disarmed (away switch off)"


def away_switch_holds(*, armed: bool) -> HeldBack | None:
    """Whether the away switch holds a new stranger visit's alert back: it does while the
    household is disarmed. Arrival notices are not stranger alerts and still go out."""
    return None if armed else HeldBack(by=HeldBackBy.DISARMED, detail=DISARMED_DETAIL)
