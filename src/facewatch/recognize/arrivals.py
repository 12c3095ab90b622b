"""When each named person was last seen, for households that want "arrived" notices
(`HouseholdSettings.arrivals`): one JSON object per household, changed by compare-and-swap
like the visits, so two frames of the same arrival cannot both announce it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from facewatch.household.rules import arrival_due
from facewatch.layout import arrivals_key
from facewatch.store.json_state import BookStore


@dataclass(frozen=True, slots=True)
class Seen:
    at: datetime
    announced_frame: str | None
    """The frame whose sighting was announced as this person's latest arrival."""


@dataclass
class ArrivalBook:
    people: dict[str, Seen] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {"at": seen.at.isoformat(), "announced_frame": seen.announced_frame}
            for name, seen in self.people.items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArrivalBook:
        return cls(
            {
                str(name): Seen(datetime.fromisoformat(v["at"]), v.get("announced_frame"))
                for name, v in data.items()
            }
        )


class ArrivalStore(BookStore[ArrivalBook]):
    what = "arrivals"  # unreadable: start afresh (worst case: one extra notice)

    def key(self, household: str) -> str:
        return arrivals_key(household)

    def empty(self) -> ArrivalBook:
        return ArrivalBook()

    def decode(self, data: dict[str, Any]) -> ArrivalBook:
        return ArrivalBook.from_dict(data)

    def arrive(
        self,
        household: str,
        names: Collection[str],
        *,
        frame_key: str,
        now: datetime,
        window: timedelta,
        arrivals: Collection[str],
        no_alerts: Collection[str],
    ) -> list[str]:
        """Record the named people seen in a frame; returns those whose arrival this is."""

        def change(book: ArrivalBook) -> tuple[ArrivalBook, list[str]]:
            # A new book, the one given left as it was: it may be the kept copy (json_state).
            people, due = dict(book.people), []
            for name in names:
                seen = people.get(name)
                is_due = arrival_due(
                    name,
                    frame_key=frame_key,
                    last_seen=seen.at if seen else None,
                    announced_frame=seen.announced_frame if seen else None,
                    now=now,
                    window=window,
                    arrivals=arrivals,
                    no_alerts=no_alerts,
                )
                if is_due:
                    due.append(name)
                last = max(seen.at, now) if seen else now
                people[name] = Seen(last, frame_key if is_due else (seen.announced_frame if seen else None))
            return ArrivalBook(people), due

        return self.change(household, change)[2]
