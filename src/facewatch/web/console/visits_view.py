"""What the visits pages show (the home page, one visit, one person), read from the
household's summaries (recognize/day_index.py), never from its results: one listing of
the summarised days, then a day's summary per day shown. Plain values, no HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from facewatch.exceptions import BadInput
from facewatch.layout import FrameKey, check_id, check_person
from facewatch.recognize.day_index import (
    DayIndex,
    FaceEntry,
    Fold,
    VisitCard,
    folds,
    visit_of,
    visits,
)
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.store.storage import Storage

PAGE_VISITS = 30
MAX_DAYS = 4
"""Day summaries one page reads at most: a quiet household's page shows its last few days
with visits, and offers the older ones."""


def _day_param(raw: str) -> str:
    raw = raw.strip().replace("-", "")
    if raw and not (len(raw) == 8 and raw.isascii() and raw.isdigit()):
        raise BadInput(f"day {raw!r}: use YYYY-MM-DD")
    return raw


def _who_param(raw: str) -> str:
    raw = raw.strip()
    if not raw:
        return ""
    if raw.startswith("stranger-"):
        return check_id(raw, "stranger id")
    return check_person(raw)


def _date(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


@dataclass(frozen=True, slots=True)
class VisitsPage:
    cards: list[VisitCard]
    folds: list[Fold]
    days: list[str]
    """The days shown (YYYYMMDD, newest first)."""
    older: str | None
    """The next older day with a summary (the "older visits" link), if any."""
    behind: list[str]
    who: str = ""

    @property
    def behind_dates(self) -> list[str]:
        return [_date(d) for d in self.behind]

    @property
    def folded_faces(self) -> int:
        return sum(len(f.faces) for f in self.folds)


def visits_page(storage: Storage, household: str, params: dict[str, str]) -> VisitsPage:
    store = DayIndexStore(storage)
    summaries = store.summaries(household)
    before = _day_param(params.get("before", ""))
    only = _day_param(params.get("day", ""))
    who = _who_param(params.get("who", ""))
    days = [d for d in summaries.days if (not before or d < before) and (not only or d == only)]
    cards: list[VisitCard] = []
    loose: list[FaceEntry] = []
    shown: list[str] = []
    for day in days[:MAX_DAYS]:
        index = store.day(household, day)
        shown.append(day)
        faces = index.faces()
        cards.extend(c for c in visits(faces) if not who or c.who == who)
        if not who:
            loose.extend(faces)
        if len(cards) >= PAGE_VISITS:
            break
    rest = [d for d in days if shown and d < shown[-1]]
    return VisitsPage(cards, folds(loose), shown, rest[0] if rest else None, summaries.behind, who)


@dataclass(frozen=True, slots=True)
class VisitPage:
    card: VisitCard
    behind: bool
    face: str
    """The face the page was opened by (an alert's, or the card's best): what its forms name."""


def _day_of_face(household: str, verdict_id: str) -> str:
    from facewatch.web.transport import Forbidden

    key, _ = FrameKey.from_verdict_id(verdict_id)
    if key.household != household:
        raise Forbidden("that face belongs to another household")
    return key.day


def _index_for(store: DayIndexStore, household: str, verdict_id: str) -> DayIndex:
    return store.day(household, _day_of_face(household, verdict_id))


def visit_page(storage: Storage, household: str, verdict_id: str) -> VisitPage:
    """The visit a face belongs to (a card's link names its best face; an alert's, its
    face): the visit's faces come from its day's summary."""
    store = DayIndexStore(storage)
    index = _index_for(store, household, verdict_id.strip())
    card = visit_of(index.faces(), verdict_id.strip())
    if card is None:
        raise BadInput(f"no visit with the face {verdict_id!r} in the summary of {_date(index.day)}")
    return VisitPage(card, index.day in store.summaries(household).behind, verdict_id.strip())


def same_visit(storage: Storage, household: str, face: str, other: str) -> bool:
    """Whether `other` is a face of the visit `face` belongs to (what an alert's session,
    limited to its face, may also see: the rest of that visit)."""
    index = _index_for(DayIndexStore(storage), household, face)
    card = visit_of(index.faces(), face)
    return card is not None and any(f.verdict_id == other.strip() for f in card.faces)


@dataclass(frozen=True, slots=True)
class PersonDay:
    day: str
    cameras: dict[str, int]

    @property
    def date(self) -> str:
        return _date(self.day)

    @property
    def visits(self) -> int:
        return sum(self.cameras.values())


@dataclass(frozen=True, slots=True)
class PersonPage:
    who: str
    days: list[PersonDay]
    """Newest first."""
    cameras: dict[str, int]
    """Visits per camera, over all the days kept."""
    last_seen: datetime | None
    latest: list[VisitCard]
    """The visits of the last day they came."""
    hours: list[int]
    """Visits per hour of the day (UTC) on the last day they came: when they come."""

    @property
    def visits(self) -> int:
        return sum(self.cameras.values())

    @property
    def stranger(self) -> bool:
        return self.who.startswith("stranger-")


def person_page(storage: Storage, household: str, who_raw: str) -> PersonPage:
    who = _who_param(who_raw)
    if not who:
        raise BadInput("the page needs a person: ?who=a name or a stranger id")
    store = DayIndexStore(storage)
    people = store.people(household)
    came = people.people.get(who, {})
    days = [PersonDay(d, came[d]) for d in sorted(came, reverse=True)]
    cameras: dict[str, int] = {}
    for day in days:
        for camera, n in day.cameras.items():
            cameras[camera] = cameras.get(camera, 0) + n
    latest: list[VisitCard] = []
    if days:
        latest = [c for c in visits(store.day(household, days[0].day).faces()) if c.who == who]
    hours = [0] * 24
    for card in latest:
        hours[card.first.astimezone(UTC).hour] += 1
    last = max((c.last for c in latest), default=None)
    return PersonPage(who, days, cameras, last, latest, hours)


def fold_of(storage: Storage, household: str, camera: str, hour: str) -> Fold | None:
    """One folded line (a camera's faces in no visit, in one UTC hour YYYYMMDDHH)."""
    if not (len(hour) == 10 and hour.isascii() and hour.isdigit()):
        raise BadInput(f"hour {hour!r}: use YYYYMMDDHH")
    camera = check_id(camera, "camera")
    index = DayIndexStore(storage).day(household, hour[:8])
    for fold in folds(f for f in index.faces() if f.camera == camera):
        if fold.hour.strftime("%Y%m%d%H") == hour:
            return fold
    return None
