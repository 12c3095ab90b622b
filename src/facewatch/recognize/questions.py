"""Questions "Is this X?": a camera face that came near a known person X without being named
X, put to the household so that its answer teaches the known set (yes: the face joins X's
photos; no: it joins X's negatives). Pure: plain data in, plain data out; the book is kept
by question_store.py, and nothing is learned here, nor ever without an answer.

Which faces (`near_miss`):

* a stranger whose nearest person X lies in the band just above the threshold in force,
  (T, U]. T already lets a stranger pass only with the rate α (decisions.py). U is the upper
  edge of the genuine distances, μg + 3σg of the distances between two photos of one person:
  the gallery's own where it holds GENUINE_PAIRS_TO_ESTIMATE such pairs, else the encoder's
  prior (0.40 ± 0.08, bench/RESULTS.md). Above U fewer than 1 in 700 of X's own faces lie,
  so a yes is all but impossible and a no changes no verdict (such a face is not named X
  anyway); below T the face is named. (T, U] is where the genuine and impostor distances
  overlap: where the distance cannot decide and a person's word can.
* a stranger within T of X that is not clearly nearer X than the next person (the margin
  rule): yes makes X clear, no rules X out.
* a face left unsure though it was judged near X (within U).

A person the household already said the face is not (X's negatives rule X out for it) is not
asked about.

Which first (`offer`): near-misses of one person within the same-person distance of each
other stand for one question, since one answer settles them all (a yes names them when the
last week is looked at again; a no puts a negative among them). Each candidate counts the
recent near-misses it stands for (`support`); the most supported is asked first, at most
QUESTIONS_PER_DAY per person in any 24 hours. A question waits QUESTION_DAYS and then leaves
unanswered; an answer removes it and the candidates it settles."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from facewatch.exceptions import BadInput
from facewatch.faces.gallery import Gallery
from facewatch.recognize.decisions import (
    MatchPolicy,
    disowned,
    gallery_model,
    negative_distances,
    person_distances,
)
from facewatch.records import FaceState, FaceVerdict, Question

PRIOR_GENUINE = (0.40, 0.08)
"""Mean and spread of the distances between two photos of one person (six views, news
photos: bench/RESULTS.md), used while the gallery holds too few such pairs to measure."""
GENUINE_PAIRS_TO_ESTIMATE = 10
"""Fewer same-person pairs than this give a spread too uncertain to set a band by."""
GENUINE_SPREAD = 3.0
"""U = μg + 3σg: past it fewer than 1 in 700 of a person's own faces lie (normal fit)."""
QUESTIONS_PER_DAY = 3
"""Per person, in any 24 hours. A few a day is what a household answers without it becoming
a chore it learns to ignore (the peers' users turn off notifications that nag), and three a
day reach 20 answers, where bench/RESULTS.md's "gallery grows" reads its last figures, in a
week."""
QUESTION_DAYS = timedelta(days=7)
"""How long a question and a near-miss stay: the window a new photo is looked at again over
(look_again.RECENT); an answer to an older face settles nothing in that window but itself."""
MAX_SUPPORT = 20
"""The count of near-misses a candidate stands for stops here: twenty frames already put it
first, and counting on would write the book on every frame of a long visit."""
MAX_CANDIDATES_PER_PERSON = 30
"""Near-misses kept per person beyond those asked: the least supported, then the oldest, go
first (a book read and written on a busy camera's frames stays small)."""


class NearMissKind(StrEnum):
    """Why a face is a question."""

    BEYOND = "beyond"
    """A stranger a little beyond the threshold in force."""
    NOT_CLEARLY = "not-clearly"
    """Within the threshold, but not clearly nearer than the next person (margin rule)."""
    UNSURE = "unsure"
    """Left unsure, though judged near the person."""


class Answer(StrEnum):
    YES = "yes"
    """The face is the person's: it joins their photos (through the enrollment gates)."""
    NO = "no"
    """It is not: it joins their negatives."""


class NotWaiting(BadInput):
    """The question was answered already, or has expired."""


@dataclass(frozen=True, slots=True)
class Band:
    """Distances to X at which a stranger face is asked about: (threshold, upper]."""

    threshold: float
    upper: float
    measured: bool
    """True when the genuine figures are the gallery's own, False for the prior."""


def genuine_distances(gallery: Gallery) -> np.ndarray:
    """Distances between every two photos of the same person."""
    rows = gallery.encodings.astype(np.float64)
    names = np.array(gallery.names)
    if len(rows) < 2:
        return np.zeros(0)
    upper = np.triu_indices(len(rows), 1)
    same = names[upper[0]] == names[upper[1]]
    first, second = upper[0][same], upper[1][same]
    return np.linalg.norm(rows[first] - rows[second], axis=1)


def question_band(gallery: Gallery, policy: MatchPolicy) -> Band:
    """The band for this gallery and rule, computed once per gallery (as its model is)."""
    key = f"question_band:{policy.threshold}:{policy.false_accept_rate}"
    kept = gallery.derived.get(key)
    if isinstance(kept, Band):
        return kept
    threshold = gallery_model(gallery).threshold(policy)
    mean, sd, measured = *PRIOR_GENUINE, False
    pairs = genuine_distances(gallery) if len(gallery) <= 2000 else np.zeros(0)
    if len(pairs) >= GENUINE_PAIRS_TO_ESTIMATE and float(pairs.std()) > 0:
        mean, sd, measured = float(pairs.mean()), float(pairs.std()), True
    band = Band(threshold, max(threshold, mean + GENUINE_SPREAD * sd), measured)
    gallery.derived[key] = band
    return band


@dataclass(frozen=True, slots=True)
class NearMiss:
    """One camera face that came near `person` without being named them."""

    frame_key: str
    face: int
    person: str
    distance: float
    kind: NearMissKind
    encoding: tuple[float, ...]


def near_miss(
    face: FaceVerdict,
    *,
    index: int,
    frame_key: str,
    encoding: np.ndarray | None,
    band: Band,
    ruled_out: Iterable[str] = (),
) -> NearMiss | None:
    """The face as a question's candidate, or None (see the module)."""
    person, dist = face.nearest, face.distance
    if person is None or dist is None or encoding is None or person in set(ruled_out):
        return None
    if face.state is not FaceState.JUDGED or face.verdict == "known":
        return None
    if face.verdict == "stranger":
        kind = NearMissKind.NOT_CLEARLY if dist <= band.threshold else NearMissKind.BEYOND
    else:
        kind = NearMissKind.UNSURE
    if dist > band.upper:
        return None
    vector = tuple(round(float(v), 5) for v in np.asarray(encoding, dtype=np.float64).ravel())
    return NearMiss(frame_key, index, person, round(float(dist), 4), kind, vector)


def near_misses(
    faces: Sequence[FaceVerdict],
    encodings: Mapping[int, np.ndarray],
    *,
    frame_key: str,
    gallery: Gallery | None,
    policy: MatchPolicy,
    negatives: Mapping[str, np.ndarray] | None = None,
) -> list[NearMiss]:
    """A judged frame's candidates: nothing to compute for a frame with no face near anyone."""
    if gallery is None or len(gallery) == 0:
        return []
    near = [
        i for i, f in enumerate(faces) if f.nearest is not None and f.verdict != "known" and i in encodings
    ]
    if not near:
        return []
    band = question_band(gallery, policy)
    found = []
    for i in near:
        distances = person_distances(encodings[i], gallery)
        ruled_out = disowned(distances, negative_distances(encodings[i], distances, negatives))
        miss = near_miss(
            faces[i], index=i, frame_key=frame_key, encoding=encodings[i], band=band, ruled_out=ruled_out
        )
        if miss is not None:
            found.append(miss)
    return found


@dataclass(frozen=True, slots=True)
class Candidate:
    """A near-miss face, and how many recent near-misses of the same person it stands for."""

    miss: NearMiss
    support: int
    last_seen: datetime
    """When a near-miss last counted for it (it leaves QUESTION_DAYS after)."""

    def seen(self, now: datetime) -> Candidate:
        if self.support >= MAX_SUPPORT:
            return self  # unchanged: no write for a count that changes no order
        return replace(self, support=self.support + 1, last_seen=max(self.last_seen, now))

    def to_dict(self) -> dict[str, Any]:
        m = self.miss
        return {
            "frame_key": m.frame_key,
            "face": m.face,
            "person": m.person,
            "distance": m.distance,
            "kind": m.kind.value,
            "encoding": list(m.encoding),
            "support": self.support,
            "last_seen": self.last_seen.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        miss = NearMiss(
            str(data["frame_key"]),
            int(data["face"]),
            str(data["person"]),
            float(data["distance"]),
            NearMissKind(data["kind"]),
            tuple(float(v) for v in data["encoding"]),
        )
        return cls(miss, int(data["support"]), datetime.fromisoformat(data["last_seen"]))


@dataclass(frozen=True, slots=True)
class Asked:
    """A question put to the household, and the near-misses its answer settles."""

    question: Question
    candidate: Candidate

    @property
    def usefulness(self) -> tuple[int, float]:
        """Sort key, larger first: the most near-misses settled, then the nearest to X."""
        return (self.candidate.support, -self.question.distance)


@dataclass(frozen=True)
class QuestionBook:
    """One household's questions waiting, the near-misses not asked about yet, and when each
    person was last asked (the daily limit counts answered questions too)."""

    waiting: tuple[Asked, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    asked_on: tuple[tuple[str, datetime], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "waiting": [
                {"question": a.question.model_dump(mode="json"), "candidate": a.candidate.to_dict()}
                for a in self.waiting
            ],
            "candidates": [c.to_dict() for c in self.candidates],
            "asked_on": [[person, at.isoformat()] for person, at in self.asked_on],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuestionBook:
        return cls(
            tuple(
                Asked(Question.model_validate(a["question"]), Candidate.from_dict(a["candidate"]))
                for a in data.get("waiting", [])
            ),
            tuple(Candidate.from_dict(c) for c in data.get("candidates", [])),
            tuple((str(p), datetime.fromisoformat(at)) for p, at in data.get("asked_on", [])),
        )


def question_id_for(household: str, miss: NearMiss) -> str:
    return hashlib.sha256(f"{household}:{miss.frame_key}#{miss.face}:{miss.person}".encode()).hexdigest()[:16]


def expire(book: QuestionBook, now: datetime) -> QuestionBook:
    """Questions and near-misses older than QUESTION_DAYS leave; the daily count forgets a day."""
    since = now - QUESTION_DAYS
    return QuestionBook(
        tuple(a for a in book.waiting if a.question.asked_at > since),
        tuple(c for c in book.candidates if c.last_seen > since),
        tuple((p, at) for p, at in book.asked_on if at > now - timedelta(days=1)),
    )


def _vector(miss: NearMiss) -> np.ndarray:
    return np.asarray(miss.encoding, dtype=np.float64)


def _nearest(misses: Sequence[NearMiss], miss: NearMiss, within: float) -> int | None:
    """The index of the near-miss of the same person nearest `miss`, if within `within`."""
    best, best_d = None, within
    here = _vector(miss)
    for i, other in enumerate(misses):
        if other.person != miss.person:
            continue
        d = float(np.linalg.norm(_vector(other) - here))
        if d <= best_d:
            best, best_d = i, d
    return best


def _trim(candidates: list[Candidate]) -> list[Candidate]:
    kept: list[Candidate] = []
    for person in sorted({c.miss.person for c in candidates}):
        own = [c for c in candidates if c.miss.person == person]
        own.sort(key=lambda c: (c.support, c.last_seen), reverse=True)
        kept.extend(own[:MAX_CANDIDATES_PER_PERSON])
    order = {id(c): i for i, c in enumerate(candidates)}
    return sorted(kept, key=lambda c: order[id(c)])


def _ask(
    household: str,
    candidates: list[Candidate],
    waiting: list[Asked],
    asked_on: list[tuple[str, datetime]],
    *,
    now: datetime,
    same_person: float,
) -> list[Candidate]:
    """Ask the most useful candidates while each person's daily limit allows; each question
    takes in the candidates its answer settles. Returns the candidates left."""
    for person in sorted({c.miss.person for c in candidates}):
        while sum(1 for p, _ in asked_on if p == person) < QUESTIONS_PER_DAY:
            own = [c for c in candidates if c.miss.person == person]
            if not own:
                break
            best = max(own, key=lambda c: (c.support, -c.miss.distance, c.last_seen))
            here = _vector(best.miss)
            settled = [
                c for c in own if float(np.linalg.norm(_vector(c.miss) - here)) <= same_person or c is best
            ]
            support = min(MAX_SUPPORT, sum(c.support for c in settled))
            question = Question(
                question_id=question_id_for(household, best.miss),
                household=household,
                person=person,
                frame_key=best.miss.frame_key,
                face=best.miss.face,
                distance=best.miss.distance,
                asked_at=now,
            )
            waiting.append(Asked(question, replace(best, support=support)))
            asked_on.append((person, now))
            candidates = [c for c in candidates if not any(c is s for s in settled)]
    return candidates


def offer(
    book: QuestionBook,
    misses: Sequence[NearMiss],
    *,
    household: str,
    now: datetime,
    same_person: float,
) -> tuple[QuestionBook, dict[int, Question]]:
    """A frame's near-misses into the book: each counts for the question or candidate of its
    person within `same_person` of it, or becomes a candidate; then the most useful are
    asked as the limit allows. Returns the book and, per face index of the frame, the
    question waiting that the face belongs to."""
    book = expire(book, now)
    waiting, candidates = list(book.waiting), list(book.candidates)
    for miss in misses:
        i = _nearest([a.candidate.miss for a in waiting], miss, same_person)
        if i is not None:
            waiting[i] = replace(waiting[i], candidate=waiting[i].candidate.seen(now))
            continue
        j = _nearest([c.miss for c in candidates], miss, same_person)
        if j is not None:
            candidates[j] = candidates[j].seen(now)
        else:
            candidates.append(Candidate(miss, 1, now))
    asked_on = list(book.asked_on)
    candidates = _ask(household, _trim(candidates), waiting, asked_on, now=now, same_person=same_person)
    placed: dict[int, Question] = {}
    for miss in misses:
        i = _nearest([a.candidate.miss for a in waiting], miss, same_person)
        if i is not None:
            placed[miss.face] = waiting[i].question
    return QuestionBook(tuple(waiting), tuple(candidates), tuple(asked_on)), placed


def answer(
    book: QuestionBook, question_id: str, *, now: datetime, same_person: float
) -> tuple[QuestionBook, Question]:
    """The question leaves, with the candidates its answer settles (within `same_person` of
    its face). What the answer teaches is the caller's to do, after this."""
    book = expire(book, now)
    asked = next((a for a in book.waiting if a.question.question_id == question_id), None)
    if asked is None:
        raise NotWaiting("that question was answered already, or has expired")
    here = _vector(asked.candidate.miss)
    person = asked.question.person
    candidates = tuple(
        c
        for c in book.candidates
        if c.miss.person != person or float(np.linalg.norm(_vector(c.miss) - here)) > same_person
    )
    waiting = tuple(a for a in book.waiting if a is not asked)
    return QuestionBook(waiting, candidates, book.asked_on), asked.question


def waiting_questions(book: QuestionBook, now: datetime) -> list[Question]:
    """The questions waiting, the most useful first."""
    live = expire(book, now).waiting
    return [a.question for a in sorted(live, key=lambda a: a.usefulness, reverse=True)]


def waiting_by_person(book: QuestionBook, now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    for question in waiting_questions(book, now):
        counts[question.person] = counts.get(question.person, 0) + 1
    return counts
