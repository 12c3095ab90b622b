"""How well recognition works for one household (`facewatch check`, the console's Check
page): pure figures on plain data, read by household_check_inputs.py.

What it says, and where each figure comes from:

* the threshold in force, T = decisions.gallery_model(gallery).threshold(policy), and the
  chance that a stranger is named by the gallery's own statistics: the normal fit of the
  distances between different people's photos (or the encoder's prior, below
  decisions.MIN_PEOPLE_TO_ESTIMATE people) gives p = Φ((T − μ) / σ) per person, and a
  stranger compared with P people is within T of at least one with 1 − (1 − p)^P. The
  margin test only lowers it, so this is an upper bound of the rule's rate.
* the closest pair of known people: the nearest two photos of two different people. Nearer
  than T, a face of one can be named as the other (a parent and a child, two siblings).
* per person: their photos and what they cover (frontal or turned, day or IR), how their
  faces at the cameras were judged in the last week, the nearest any remembered stranger
  came to their photos, and the questions waiting for them.

Which faces are a person's ("theirs"): a face named X, and a face not named (a stranger or
unsure verdict) whose nearest known person was X (FaceVerdict.nearest) at a distance no
more than `near`, the distance under which faces of different people fall only
THEIRS_RATE of the time by the same impostor fit (and never less than T). Faces too small
or blurred to compare have no nearest person and are nobody's; so are faces of results
written before `nearest` was recorded. A face far from everyone is nobody's: it is a
stranger's."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from statistics import NormalDist
from typing import Any

import numpy as np

from facewatch.faces.gallery import Gallery
from facewatch.recognize.day_index import FaceEntry
from facewatch.recognize.decisions import MIN_PEOPLE_TO_ESTIMATE, MatchPolicy, gallery_model

FRONTAL_DEGREES = 20.0
"""A photo's face turned less than this is frontal; more, turned. At a door, faces turned
20-45° are common (someone looking at the lock or back down the path), and a known set of
frontal photos only matches them at larger distances (photo_gates warns past 45°)."""
THEIRS_RATE = 0.05
"""An unnamed face nearer to X than the impostor fit's 5 % quantile counts as X's: faces of
different people come that near only one time in twenty."""
WEEK_DAYS = 7


class View(StrEnum):
    FRONTAL = "frontal"
    TURNED = "turned"
    UNKNOWN = "unknown"
    """No face found when the photo was measured again (its encoding came from one)."""


class Light(StrEnum):
    DAY = "day"
    IR = "ir"
    """A grey picture: an IR camera at night, or black and white (photo_checks.is_grey)."""


WORDS = {"frontal": "frontal", "turned": "turned", "day": "daylight", "ir": "IR"}


class Tally(StrEnum):
    """How a face of theirs at the cameras was judged."""

    NAMED = "named"
    UNSURE = "unsure"
    STRANGER = "stranger"


@dataclass(frozen=True, slots=True)
class PhotoCover:
    """What one known photo shows, as measured (household_check_inputs.photo_cover)."""

    key: str
    yaw_degrees: float | None
    grey: bool

    @property
    def view(self) -> View:
        if self.yaw_degrees is None:
            return View.UNKNOWN
        return View.FRONTAL if self.yaw_degrees < FRONTAL_DEGREES else View.TURNED

    @property
    def light(self) -> Light:
        return Light.IR if self.grey else Light.DAY

    def to_json(self) -> dict[str, Any]:
        yaw = None if self.yaw_degrees is None else round(self.yaw_degrees, 1)
        return {"key": self.key, "view": str(self.view), "light": str(self.light), "yaw_degrees": yaw}


@dataclass(frozen=True, slots=True)
class NearestStranger:
    stranger_id: str
    distance: float
    within_threshold: bool
    """The stranger is as near as a face that would be named: it may be this person (name it
    on the console), or this person's photos would name that stranger."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stranger_id": self.stranger_id,
            "distance": round(self.distance, 3),
            "within_threshold": self.within_threshold,
        }


@dataclass(frozen=True, slots=True)
class PersonCheck:
    name: str
    photos: tuple[PhotoCover, ...]
    faces: Mapping[Tally, int]
    nearest_stranger: NearestStranger | None
    questions_waiting: int

    def covers(self) -> dict[str, int]:
        views = [p.view for p in self.photos]
        lights = [p.light for p in self.photos]
        return {
            str(View.FRONTAL): views.count(View.FRONTAL),
            str(View.TURNED): views.count(View.TURNED),
            str(Light.DAY): lights.count(Light.DAY),
            str(Light.IR): lights.count(Light.IR),
        }

    def missing(self) -> list[str]:
        """What no photo of theirs covers, in the order a person reads it."""
        return [kind for kind, n in self.covers().items() if n == 0]

    def missing_text(self) -> str:
        """What no photo covers, in words ("no turned or IR photo"); empty when all is covered."""
        words = [WORDS[kind] for kind in self.missing()]
        if not words:
            return ""
        listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        return f"no {listed} photo"

    @property
    def seen(self) -> int:
        return sum(self.faces.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "photos": [p.to_json() for p in self.photos],
            "covers": self.covers(),
            "missing": self.missing(),
            "faces": {str(t): self.faces.get(t, 0) for t in Tally},
            "nearest_stranger": None if self.nearest_stranger is None else self.nearest_stranger.to_json(),
            "questions_waiting": self.questions_waiting,
        }


@dataclass(frozen=True, slots=True)
class ClosestPair:
    people: tuple[str, str]
    distance: float
    photos: tuple[str, str]
    within_threshold: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "people": list(self.people),
            "distance": round(self.distance, 3),
            "photos": list(self.photos),
            "within_threshold": self.within_threshold,
        }


@dataclass(frozen=True, slots=True)
class StrangerOdds:
    """The chance a stranger is named, by the impostor fit the threshold comes from."""

    chance: float
    people: int
    impostor_mean: float
    impostor_sd: float
    measured: bool
    """False: the encoder's prior (too few people to measure the household's own)."""
    false_accept_rate: float
    """α, what the threshold aims for; the chance differs where T is capped or floored."""

    def to_json(self) -> dict[str, Any]:
        return {
            "chance": round(self.chance, 4),
            "people": self.people,
            "impostor_mean": round(self.impostor_mean, 4),
            "impostor_sd": round(self.impostor_sd, 4),
            "measured": self.measured,
            "false_accept_rate": self.false_accept_rate,
        }


@dataclass(frozen=True, slots=True)
class HouseholdCheck:
    household: str
    since: datetime
    until: datetime
    threshold: float
    near: float
    """The distance under which an unnamed face counts as its nearest person's."""
    stranger_named: StrangerOdds
    closest_pair: ClosestPair | None
    people: tuple[PersonCheck, ...]
    faces_nobodys: int
    """Faces of the week counted for nobody: too small or blurred to compare, of results
    written before `nearest` was kept, or farther than `near` from everyone."""
    behind: tuple[str, ...] = field(default=())
    """Days of the week whose summaries are behind their results (their faces may be missing
    here until `facewatch reindex`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "household": self.household,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "threshold": round(self.threshold, 4),
            "near": round(self.near, 4),
            "stranger_named": self.stranger_named.to_json(),
            "closest_pair": None if self.closest_pair is None else self.closest_pair.to_json(),
            "people": [p.to_json() for p in self.people],
            "faces_nobodys": self.faces_nobodys,
            "summaries_behind": list(self.behind),
        }


def stranger_odds(gallery: Gallery, policy: MatchPolicy) -> tuple[float, StrangerOdds]:
    """The threshold in force and the chance a stranger is named under it."""
    model = gallery_model(gallery)
    threshold = model.threshold(policy)
    per_person = NormalDist(model.impostor_mean, model.impostor_sd).cdf(threshold)
    people = len(model.people)
    chance = 1.0 - (1.0 - per_person) ** people
    odds = StrangerOdds(
        chance, people, model.impostor_mean, model.impostor_sd, model.measured, policy.false_accept_rate
    )
    return threshold, odds


def near_limit(gallery: Gallery, threshold: float) -> float:
    model = gallery_model(gallery)
    return max(threshold, NormalDist(model.impostor_mean, model.impostor_sd).inv_cdf(THEIRS_RATE))


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every row of `a` to every row of `b` (len(a) x len(b)), without the len(a) x len(b) x
    128 array a broadcast difference would make (a gallery of 1,000 photos: a gigabyte)."""
    a, b = a.astype(np.float64).reshape(-1, 128), b.astype(np.float64).reshape(-1, 128)
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def closest_pair(gallery: Gallery, threshold: float) -> ClosestPair | None:
    """The two nearest photos of two different people (None with fewer than two people)."""
    if len(gallery.people) < 2:
        return None
    dist = distances(gallery.encodings, gallery.encodings)
    names = np.array(gallery.names)
    dist[names[:, None] == names[None, :]] = np.inf
    i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
    a, b = sorted([(gallery.names[i], gallery.photo_keys[i]), (gallery.names[j], gallery.photo_keys[j])])
    d = float(dist[i, j])
    return ClosestPair((a[0], b[0]), d, (a[1], b[1]), d <= threshold)


def nearest_strangers(
    gallery: Gallery, stranger_ids: Sequence[str], stranger_rows: np.ndarray, threshold: float
) -> dict[str, NearestStranger]:
    """Per known person, the remembered stranger whose representative encoding came nearest
    to one of their photos."""
    if not len(stranger_ids) or not len(gallery):
        return {}
    dist = distances(gallery.encodings, np.asarray(stranger_rows))
    out: dict[str, NearestStranger] = {}
    for name in gallery.people:
        mine = dist[[i for i, n in enumerate(gallery.names) if n == name]]
        i, j = np.unravel_index(int(np.argmin(mine)), mine.shape)
        d = float(mine[i, j])
        out[name] = NearestStranger(stranger_ids[int(j)], d, d <= threshold)
    return out


def whose(face: FaceEntry, people: Iterable[str], near: float) -> tuple[str, Tally] | None:
    """Whose face this is and how it was judged, by the rule in the module's docstring."""
    known = set(people)
    if face.verdict == "known" and face.name in known:
        return face.name, Tally.NAMED
    if face.verdict not in ("stranger", "unsure") or face.nearest not in known:
        return None
    if face.distance is None or not math.isfinite(face.distance) or face.distance > near:
        return None
    return face.nearest, Tally.STRANGER if face.verdict == "stranger" else Tally.UNSURE


def check_household(
    household: str,
    gallery: Gallery,
    policy: MatchPolicy,
    *,
    covers: Mapping[str, PhotoCover],
    faces: Iterable[FaceEntry],
    stranger_ids: Sequence[str],
    stranger_rows: np.ndarray,
    waiting: Mapping[str, int],
    since: datetime,
    until: datetime,
    behind: Sequence[str] = (),
) -> HouseholdCheck:
    """Every figure of the check. `covers`: by photo key, for the gallery's photos (a photo
    missing from it is UNKNOWN); `faces`: the judged faces at the cameras (those outside
    [since, until) are left out); `waiting`: questions waiting, by person."""
    people = gallery.people
    threshold, odds = stranger_odds(gallery, policy)
    near = near_limit(gallery, threshold)
    tallies: dict[str, dict[Tally, int]] = {name: dict.fromkeys(Tally, 0) for name in people}
    nobodys = 0
    for face in faces:
        if not since <= face.at < until:
            continue
        found = whose(face, people, near)
        if found is None:
            nobodys += 1
        else:
            tallies[found[0]][found[1]] += 1
    strangers = nearest_strangers(gallery, stranger_ids, stranger_rows, threshold)
    checks = tuple(
        PersonCheck(
            name,
            tuple(
                covers.get(key) or PhotoCover(key, None, False)
                for key, owner in zip(gallery.photo_keys, gallery.names, strict=True)
                if owner == name
            ),
            tallies[name],
            strangers.get(name),
            int(waiting.get(name, 0)),
        )
        for name in people
    )
    return HouseholdCheck(
        household,
        since,
        until,
        threshold,
        near,
        odds,
        closest_pair(gallery, threshold),
        checks,
        nobodys,
        tuple(behind),
    )


# --- in words ---------------------------------------------------------------------------


def pair_meaning(pair: ClosestPair, threshold: float) -> str:
    a, b = pair.people
    if pair.within_threshold:
        return (
            f"{a} and {b} are nearer each other ({pair.distance:.3f}) than the threshold "
            f"{threshold:.3f}: a face of one can be named as the other, or left unnamed as not "
            "clearly either (a parent and a child, two siblings); add photos of both as the "
            "camera sees them"
        )
    return (
        f"{a} and {b} are the nearest two people ({pair.distance:.3f}), farther apart than "
        f"the threshold {threshold:.3f}"
    )


def lines(check: HouseholdCheck) -> list[str]:
    """The check for people: a few lines for the household, a few per person."""
    odds = check.stranger_named
    source = (
        "this household's photos"
        if odds.measured
        else f"the encoder's prior (fewer than {MIN_PEOPLE_TO_ESTIMATE} people)"
    )
    out = [
        f"household {check.household}: {len(check.people)} known people; "
        f"threshold {check.threshold:.3f}; a stranger is named with chance {odds.chance:.1%} at most "
        f"(impostor fit {odds.impostor_mean:.3f} ± {odds.impostor_sd:.3f} from {source}, "
        f"over {odds.people} people)",
    ]
    if check.closest_pair is not None:
        out.append(f"closest pair: {pair_meaning(check.closest_pair, check.threshold)}")
    if check.behind:
        out.append(
            f"warning: the summaries of {', '.join(check.behind)} are behind: faces may be missing "
            "(facewatch reindex)"
        )
    for person in check.people:
        covers = person.covers()
        text = (
            f"{person.name}: {len(person.photos)} photo(s): {covers['frontal']} frontal, "
            f"{covers['turned']} turned, {covers['day']} day, {covers['ir']} IR"
        )
        if person.missing():
            text += f"; {person.missing_text()}"
        out.append(text)
        faces = person.faces
        out.append(
            f"  last {WEEK_DAYS} days: {faces.get(Tally.NAMED, 0)} named, "
            f"{faces.get(Tally.UNSURE, 0)} unsure, {faces.get(Tally.STRANGER, 0)} taken for a stranger"
        )
        near = person.nearest_stranger
        if near is None:
            out.append("  no stranger remembered")
        else:
            warn = f" (within the threshold: is it {person.name}?)" if near.within_threshold else ""
            out.append(f"  nearest stranger: {near.stranger_id} at {near.distance:.3f}{warn}")
        out.append(f"  questions waiting: {person.questions_waiting}")
    out.append(
        f"{check.faces_nobodys} face(s) of the week counted for nobody (too small or blurred to compare, "
        f"or farther than {check.near:.3f} from everyone)"
    )
    return out
