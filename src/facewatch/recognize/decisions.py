"""Pure decisions on plain data: who is this face, and is it a stranger worth an alert?

The rule (DESIGN.md, "Decision rule"). A face too small or too blurred to judge is
'unsure'. Otherwise its distance to each known person is the distance to that person's
nearest enrolled photo, and the nearest person b is named only if both hold:

* d(b) <= T, where T keeps the chance that a stranger is taken for *someone* near the
  configured rate α. A stranger is compared with every one of the P people, so each
  comparison may only err with α/P (Bonferroni over people, not photos: photos of one person
  are so alike that a stranger gets about one chance per person). Distances between photos of
  different enrolled people estimate the impostor distribution (a normal fit; below
  MIN_PEOPLE_TO_ESTIMATE people the encoder's prior is used), and T is its α/P quantile,
  capped by the configured threshold and never below MIN_THRESHOLD.
* d(b) <= margin_ratio * d(second-best person): a face about as near to two people is not
  clearly either (Lowe's ratio test; the second person measures how near faces come to this
  one by chance).

"This is not X" feedback: X is out for a face nearer to one of X's negatives than to X's
nearest photo; the next person is considered, else it is a stranger.

Tried and dropped (bench/RESULTS.md): per-person thresholds and cohort (z/t/s) score
normalisation, worse than plain distance at every operating point; mean over a person's
photos, slightly better but mixes poses the nearest photo is meant to keep apart; one
score d(b) - λ·(d(second) - d(b)) with its cut derived from the gallery (the α quantile
of that score for the two nearest of P people drawn from the impostor fit): its false
accepts come nearer to α, but at equal false accepts it names no more people than this
rule, whose two conditions already weigh distance and margin. The encodings themselves
gained more (encodings.describe_views: six views of each face).

`settled` says when a face's quick encoding is enough: when moving each of its distances by
encodings.QUICK_DISTANCE_ERROR could not change the verdict, the full encoding would not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist, median
from typing import TYPE_CHECKING

import numpy as np

from facewatch.faces.gallery import Gallery
from facewatch.records import FaceState, Verdict

if TYPE_CHECKING:
    from facewatch.config import Settings

PRIOR_IMPOSTOR = (0.80, 0.09)
"""Mean and spread of the distances between different people (encodings.describe_views),
measured on ~3,000 news photos (bench/RESULTS.md); used while a gallery has too few people
to measure its own."""
MIN_PEOPLE_TO_ESTIMATE = 5
MIN_THRESHOLD = 0.4
"""Below this most photos of the same person no longer match each other: a stricter T
would turn the household into strangers rather than keep strangers out."""
MAX_ROWS_TO_ESTIMATE = 2000
"""Enough rows for the impostor estimate; bounds the pairwise work on a huge gallery."""


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    threshold: float = 0.6
    """The most lenient distance that may ever name someone (the cap on T)."""
    min_face_px: int = 40
    min_sharpness: float = 15.0
    false_accept_rate: float = 0.02
    """α: the chance a stranger may be taken for someone; sets T from the gallery."""
    margin_ratio: float = 0.85
    """The best person's distance must be at most this times the second-best's; 1 turns it off."""

    @classmethod
    def from_settings(cls, settings: Settings) -> MatchPolicy:
        return cls(
            threshold=settings.match_threshold,
            min_face_px=settings.min_judge_face_px,
            min_sharpness=settings.min_sharpness,
            false_accept_rate=settings.match_false_accept_rate,
            margin_ratio=settings.match_margin_ratio,
        )


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    name: str | None
    distance: float | None
    reason: str
    state: FaceState = FaceState.JUDGED
    """CANNOT_DECIDE when there was no known set to judge against."""
    nearest: str | None = None
    """The known person nearest this face whatever the verdict (`distance` is theirs): a
    stranger or unsure face near someone is what a question "Is this X?" is made of."""


@dataclass(frozen=True, slots=True)
class GalleryModel:
    """What the rule needs from a gallery, computed once per gallery (not per face)."""

    people: tuple[str, ...]
    person_of_row: np.ndarray
    impostor_mean: float
    impostor_sd: float
    measured: bool
    """True when the impostor figures come from this gallery, False for the prior."""

    def threshold(self, policy: MatchPolicy) -> float:
        if not self.people:
            return policy.threshold
        quantile = NormalDist().inv_cdf(min(policy.false_accept_rate / len(self.people), 0.5))
        t = self.impostor_mean + self.impostor_sd * quantile
        return float(min(policy.threshold, max(MIN_THRESHOLD, t)))


def impostor_distances(encodings: np.ndarray, person_of_row: np.ndarray) -> np.ndarray:
    """Distances between every two photos of different people."""
    rows = encodings.astype(np.float64)
    sq = (rows * rows).sum(axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * rows @ rows.T, 0.0))
    upper = np.triu_indices(len(rows), 1)
    different = person_of_row[upper[0]] != person_of_row[upper[1]]
    return dist[upper][different]


def build_model(gallery: Gallery) -> GalleryModel:
    people = tuple(gallery.people)
    index = {name: i for i, name in enumerate(people)}
    person_of_row = np.array([index[n] for n in gallery.names], dtype=np.intp)
    mean, sd, measured = *PRIOR_IMPOSTOR, False
    if len(people) >= MIN_PEOPLE_TO_ESTIMATE:
        rows, owners = gallery.encodings, person_of_row
        if len(rows) > MAX_ROWS_TO_ESTIMATE:
            keep = np.linspace(0, len(rows) - 1, MAX_ROWS_TO_ESTIMATE).astype(np.intp)
            rows, owners = rows[keep], owners[keep]
        pairs = impostor_distances(rows, owners)
        if len(pairs) >= 2 and float(pairs.std()) > 0:
            mean, sd, measured = float(pairs.mean()), float(pairs.std()), True
    return GalleryModel(people, person_of_row, mean, sd, measured)


def gallery_model(gallery: Gallery) -> GalleryModel:
    """The gallery's model, built on first use and kept on the gallery (which never changes
    once loaded: a new enrollment is a new Gallery)."""
    model = gallery.derived.get("decision_model")
    if not isinstance(model, GalleryModel):
        model = build_model(gallery)
        gallery.derived["decision_model"] = model
    return model


def person_distances(encoding: np.ndarray, gallery: Gallery) -> dict[str, float]:
    """Each known person's distance: the nearest of their photos."""
    if len(gallery) == 0:
        return {}
    model = gallery_model(gallery)
    dists = np.linalg.norm(gallery.encodings.astype(np.float64) - encoding, axis=1)
    best = np.full(len(model.people), np.inf)
    np.minimum.at(best, model.person_of_row, dists)
    return dict(zip(model.people, best.tolist(), strict=True))


def negative_distances(
    encoding: np.ndarray, distances: Mapping[str, float], negatives: Mapping[str, np.ndarray] | None
) -> dict[str, float]:
    """For each known person with negatives, this face's distance to the nearest of them."""
    out: dict[str, float] = {}
    for name, rows in (negatives or {}).items():
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 128)
        if name in distances and len(rows):
            out[name] = float(np.linalg.norm(rows - encoding, axis=1).min())
    return out


def disowned(distances: Mapping[str, float], nearest_negatives: Mapping[str, float]) -> set[str]:
    """People this face is said not to be: it is nearer to one of their negatives than to
    their nearest photo."""
    return {name for name, d in nearest_negatives.items() if d < distances[name]}


def judge_face(
    encoding: np.ndarray | None,
    *,
    face_px: int,
    sharpness: float,
    gallery: Gallery | None,
    policy: MatchPolicy,
    negatives: Mapping[str, np.ndarray] | None = None,
) -> Judgement:
    if face_px < policy.min_face_px:
        return Judgement("unsure", None, None, f"face {face_px}px is below {policy.min_face_px}px")
    if sharpness < policy.min_sharpness:
        return Judgement("unsure", None, None, f"face too blurred (sharpness {sharpness:.1f})")
    if gallery is None:
        return Judgement(
            "unsure", None, None, "cannot decide: known encodings unavailable", FaceState.CANNOT_DECIDE
        )
    if encoding is None:
        return Judgement("unsure", None, None, "face could not be encoded")
    distances = person_distances(encoding, gallery)
    if not distances:
        return Judgement("stranger", None, None, "household has no known people")
    limit = gallery_model(gallery).threshold(policy)
    ruled_out = disowned(distances, negative_distances(encoding, distances, negatives))
    ranked = sorted((d, n) for n, d in distances.items() if n not in ruled_out)
    not_them = f" (not {', '.join(sorted(ruled_out))}, by feedback)" if ruled_out else ""
    if not ranked:
        closest = min(distances, key=distances.__getitem__)
        return Judgement("stranger", None, distances[closest], f"nobody left{not_them}", nearest=closest)
    dist, name = ranked[0]
    if dist > limit:
        return Judgement(
            "stranger", None, dist, f"nearest {name} at {dist:.3f} > {limit:.3f}{not_them}", nearest=name
        )
    if len(ranked) > 1 and dist > policy.margin_ratio * ranked[1][0]:
        second_dist, second = ranked[1]
        return Judgement(
            "stranger",
            None,
            dist,
            f"{name} at {dist:.3f} is not clearly nearer than {second} at {second_dist:.3f}{not_them}",
            nearest=name,
        )
    return Judgement("known", name, dist, f"{name} at {dist:.3f} <= {limit:.3f}{not_them}", nearest=name)


def settled(
    encoding: np.ndarray,
    *,
    gallery: Gallery | None,
    policy: MatchPolicy,
    slack: float,
    negatives: Mapping[str, np.ndarray] | None = None,
) -> bool:
    """True when the `judge_face` verdict stays the same however each distance the rule
    compares (to each person's nearest photo, to each negative) moves by up to `slack`; so
    also for every encoding within `slack` of this one (triangle inequality)."""
    if gallery is None or len(gallery) == 0:
        return True
    distances = person_distances(encoding, gallery)
    nearest_negatives = negative_distances(encoding, distances, negatives)
    if any(abs(d - distances[name]) <= 2 * slack for name, d in nearest_negatives.items()):
        return False  # a person could be ruled out, or in
    ruled_out = disowned(distances, nearest_negatives)
    ranked = sorted(d for n, d in distances.items() if n not in ruled_out)
    if not ranked:
        return True
    limit = gallery_model(gallery).threshold(policy)
    ratio = policy.margin_ratio
    second = ranked[1] if len(ranked) > 1 else np.inf
    if ranked[0] + slack <= limit and ranked[0] + slack <= ratio * (second - slack):
        return True  # named whichever way it moves
    for i, dist in enumerate(ranked):
        nearest_other = ranked[0] if i else second
        if dist - slack <= limit and dist - slack <= ratio * (nearest_other + slack):
            return False  # this person could be named
    return True  # nobody can be: a stranger whichever way it moves


def judge_visit(frames: Sequence[Judgement]) -> Judgement:
    """One visit's identity from its frames' judgements: the person named in more than half of
    the frames that could be judged, else a stranger (else unsure, if none could be judged).
    A stranger's single lucky frame near someone does not make the visit theirs, and one bad
    frame of a known person does not make them a stranger."""
    judged = [j for j in frames if j.verdict != "unsure"]
    if not judged:
        return Judgement("unsure", None, None, f"none of {len(frames)} frames could be judged")
    named = Counter(j.name for j in judged if j.verdict == "known")
    if named:
        name, count = named.most_common(1)[0]
        if 2 * count > len(judged):
            dist = median(j.distance for j in judged if j.name == name and j.distance is not None)
            return Judgement("known", name, dist, f"{name} in {count} of {len(judged)} judged frames")
    dists = [j.distance for j in judged if j.distance is not None]
    return Judgement(
        "stranger",
        None,
        median(dists) if dists else None,
        f"no one named in most of {len(judged)} judged frames",
    )
