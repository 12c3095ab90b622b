"""Pure decisions on one edge track's faces taken together: a quality-weighted running
encoding of the track, judged against the known set as the track grows, and what that
judgement does to each face's own verdict (DESIGN.md, "Visits, track votes and strangers").

An edge track (camera + track id) is one person. Each of its faces is a noisy measurement
of that person's encoding, and the noise grows as the face carries less of the detail the
encoder reads. The minimum-variance way to combine independent measurements of one value is
their mean weighted by the inverse of each one's variance; a face's weight here is the
fraction of an enrolled photo's detail it carries, taken as proportional to that inverse
variance (each unit of detail an independent look at the face):

* size: the encoder's aligned chip gives the face 100 px a landmark unit
  (encodings.WIDE_PADDING), so a face at least FULL_FACE_PX wide is seen at full detail and
  a smaller one is upsampled: its detail is the pixels it has, (px / FULL_FACE_PX)².
* pose: a face turned by θ shows its front foreshortened by cos θ (pose.yaw_degrees models
  the head as a cylinder, the same geometry).
* sharpness: the variance of the Laplacian (quality.sharpness, at a fixed scale) is the
  high-frequency power left after blur; a face at least FULL_SHARPNESS sharp is in focus.

The running encoding is judged by the very rule a face is (`decisions.judge_face`), with the
size and blur gates already passed face by face and its limits moved by the faces' spread,
so that the track is as far from a photo as its faces are on average (`judge_running`):
the lucky frame of a stranger near a lookalike, or a known person's bad frame, becomes one
term of a mean, weighed by its quality, instead of a verdict."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from facewatch.faces.gallery import Gallery
from facewatch.recognize.decisions import (
    Judgement,
    MatchPolicy,
    disowned,
    gallery_model,
    judge_face,
    negative_distances,
    person_distances,
)
from facewatch.records import Verdict

FULL_FACE_PX = 100
"""From this face size on the chip is not upsampled: the face has all the detail the encoder uses."""
FULL_SHARPNESS = 200.0
"""In-focus faces of the test photos, scaled to door-camera sizes (40-150 px), measure 216 to
960 (quality.sharpness): at least this sharp, a face is taken as in focus."""
MIN_WEIGHT = 1e-3
"""A face that passed the judge's gates always counts a little (yaw 90° gives cos 0)."""
MIN_FACES = 2
"""A track's own evidence decides from its second face: one face's evidence is that face,
whose verdict (the track votes' answer for it) stands as it is today."""
MAX_ANSWERS = 60
"""Each track keeps what it answered for its last this many faces, so a replayed face gets
the same answer and is not counted twice; a replay comes soon after its frame (the frame's
result was not written), far fewer than this many faces of the same track later."""


def quality_weight(face_px: int, sharpness: float | None, yaw_degrees: float | None) -> float:
    """The fraction of an enrolled photo's detail a face carries (the module's doc): the
    product of its size, pose and focus factors, each 1 at full quality. An unknown measure
    (a result without it) counts as full."""
    size = min(1.0, face_px / FULL_FACE_PX) ** 2
    pose = 1.0 if yaw_degrees is None else math.cos(math.radians(min(90.0, abs(yaw_degrees))))
    focus = 1.0 if sharpness is None else min(1.0, max(0.0, sharpness) / FULL_SHARPNESS)
    return max(MIN_WEIGHT, size * pose * focus)


@dataclass(frozen=True, slots=True)
class TrackFace:
    """One judged face of an edge track, with what its running encoding needs."""

    track_key: str
    face_key: str
    """The frame's key and the face's index, as a Vote's: a replayed face counts once."""
    seen_at: datetime
    encoding: np.ndarray
    weight: float


@dataclass(frozen=True, slots=True)
class Answer:
    """What a track's evidence said when one of its faces arrived (kept for replays)."""

    face_key: str
    faces: int
    """How many of the track's faces were counted then: from MIN_FACES on, the answer is
    the running encoding's; before, the track votes'."""
    verdict: str
    name: str | None
    distance: float | None
    nearest: str | None
    reason: str

    @property
    def from_evidence(self) -> bool:
        return self.faces >= MIN_FACES

    def judgement(self) -> Judgement:
        verdict: Verdict = "unsure"
        if self.verdict in ("known", "stranger"):
            verdict = "known" if self.verdict == "known" else "stranger"
        return Judgement(verdict, self.name, self.distance, self.reason, nearest=self.nearest)

    @classmethod
    def of(cls, face_key: str, faces: int, judgement: Judgement) -> Answer:
        j = judgement
        return cls(face_key, faces, j.verdict, j.name, j.distance, j.nearest, j.reason)


@dataclass(frozen=True, slots=True)
class TrackEvidence:
    """One edge track's running encoding: Σ wᵢ·eᵢ, Σ wᵢ·|eᵢ|² and Σ wᵢ over the faces counted."""

    track_key: str
    total: tuple[float, ...]
    weight: float
    faces: int
    last_seen: datetime
    answers: tuple[Answer, ...] = ()
    squares: float = 0.0

    def encoding(self) -> np.ndarray:
        return np.asarray(self.total, dtype=np.float64) / self.weight

    def spread(self) -> float:
        """The weighted mean squared distance of the track's faces from their mean."""
        mean = self.encoding()
        return max(0.0, self.squares / self.weight - float(mean @ mean))

    def answer(self, face_key: str) -> Answer | None:
        for answer in self.answers:
            if answer.face_key == face_key:
                return answer
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "track": self.track_key,
            "total": [round(x, 7) for x in self.total],
            "weight": self.weight,
            "squares": self.squares,
            "faces": self.faces,
            "last_seen": self.last_seen.isoformat(),
            "answers": [
                [a.face_key, a.faces, a.verdict, a.name, a.distance, a.nearest, a.reason]
                for a in self.answers
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackEvidence:
        return cls(
            str(data["track"]),
            tuple(float(x) for x in data["total"]),
            float(data["weight"]),
            int(data["faces"]),
            datetime.fromisoformat(data["last_seen"]),
            tuple(
                Answer(str(k), int(f), str(v), n, None if d is None else float(d), near, str(r))
                for k, f, v, n, d, near, r in data.get("answers", ())
            ),
            float(data.get("squares", 0.0)),
        )


Judge = Callable[[np.ndarray, float], Judgement]
"""The rule for a track: its running encoding and its spread → who the track is."""


def judge_running(
    gallery: Gallery | None, policy: MatchPolicy, negatives: Mapping[str, np.ndarray] | None = None
) -> Judge:
    """The face rule (`decisions.judge_face`) for a running encoding m whose faces spread s²
    about it. A mean is nearer everyone than its faces are (the faces' noise averages out:
    for each photo g, Σwᵢ|eᵢ − g|²/Σwᵢ = |m − g|² + s²), and the rule's limits were set on
    single photos' distances; so the track's distance to a photo is its faces' weighted
    root-mean-square distance √(|m − g|² + s²), whose expected value is a single face's
    and whose spread shrinks as faces are added. judge_face is run on m with its limits
    moved to match: the threshold T becomes √(T² − s²), the margin ratio r the ratio that
    puts √(d₁² + s²) ≤ r·√(d₂² + s²). Its faces passed the size and blur gates one by one."""

    def judge(encoding: np.ndarray, spread: float) -> Judgement:
        strict = policy
        if gallery is not None and len(gallery) and spread > 0:
            limit = gallery_model(gallery).threshold(policy)
            distances = person_distances(encoding, gallery)
            out = disowned(distances, negative_distances(encoding, distances, negatives))
            ranked = sorted(d for name, d in distances.items() if name not in out)
            ratio = policy.margin_ratio
            if len(ranked) > 1 and ranked[1] > 0:
                ratio = math.sqrt(max(0.0, ratio**2 * (ranked[1] ** 2 + spread) - spread)) / ranked[1]
            strict = replace(policy, threshold=math.sqrt(max(0.0, limit**2 - spread)), margin_ratio=ratio)
        said = judge_face(
            encoding,
            face_px=policy.min_face_px,
            sharpness=policy.min_sharpness,
            gallery=gallery,
            policy=strict,
            negatives=negatives,
        )
        if said.distance is None:
            return said
        return replace(said, distance=math.sqrt(said.distance**2 + spread))

    return judge


def record_evidence(
    tracks: Sequence[TrackEvidence],
    faces: Sequence[TrackFace],
    *,
    now: datetime,
    window: timedelta,
    judge: Judge | None,
    first_faces: Callable[[str], Judgement],
) -> tuple[list[TrackEvidence], dict[str, Answer]]:
    """Each face added to its track's running encoding (a face already counted is not
    counted again and gets the answer it got), tracks unseen for `window` dropped; returns
    the tracks kept and, per face key, who its track is with that face counted: `judge` on
    the running encoding from the track's MIN_FACES-th face, `first_faces(track key)` (the
    track votes) before. No `judge` (no known set to judge against): nothing is counted."""
    by_key = {t.track_key: t for t in tracks if now - t.last_seen <= window}
    answers: dict[str, Answer] = {}
    if judge is None:
        return list(by_key.values()), answers
    for face in faces:
        track = by_key.get(face.track_key)
        earlier = None if track is None else track.answer(face.face_key)
        if earlier is not None:
            answers[face.face_key] = earlier
            continue
        w = max(MIN_WEIGHT, face.weight)
        encoding = np.asarray(face.encoding, dtype=np.float64)
        added, square = encoding * w, w * float(encoding @ encoding)
        if track is None:
            track = TrackEvidence(face.track_key, tuple(added.tolist()), w, 1, face.seen_at, squares=square)
        else:
            total = np.asarray(track.total, dtype=np.float64) + added
            track = replace(
                track,
                total=tuple(total.tolist()),
                weight=track.weight + w,
                squares=track.squares + square,
                faces=track.faces + 1,
                last_seen=max(track.last_seen, face.seen_at),
            )
        said = judge_evidence(track, judge) if track.faces >= MIN_FACES else first_faces(face.track_key)
        answer = Answer.of(face.face_key, track.faces, said)
        answers[face.face_key] = answer
        by_key[face.track_key] = replace(track, answers=(*track.answers, answer)[-MAX_ANSWERS:])
    return list(by_key.values()), answers


def judge_evidence(track: TrackEvidence, judge: Judge) -> Judgement:
    spread = track.spread()
    said = judge(track.encoding(), spread)
    together = f"its track's {track.faces} faces together (their mean, spread {math.sqrt(spread):.2f})"
    return replace(said, reason=f"{together}: {said.reason}")


def beside_track(face: Judgement, track: Answer | None) -> Judgement:
    """A named face's verdict beside its track's: it stays named only where its track (from
    its second face) names the same person or cannot say. Named alone while the track's
    evidence names someone else or nobody, it is left unsure: not named (no arrival notice,
    no lookalike taken for family) and not a stranger either (its own distance says it is
    near someone; no alert rests on a face the track and the face disagree on). Stranger
    and unsure faces are left as they are: what a stranger face's track does to its alert
    is `visits.place`'s."""
    if face.verdict != "known" or track is None or not track.from_evidence or track.verdict == "unsure":
        return face
    if track.verdict == "known" and track.name == face.name:
        return face
    return replace(
        face,
        verdict="unsure",
        name=None,
        reason=f"{face.name} alone ({face.reason}), but {track.reason}",
    )
