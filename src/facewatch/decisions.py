"""Pure decisions on plain data: who is this face, and is it a stranger worth an alert?

The rule (documented in ARCHITECTURE.md): a face too small or too blurred to judge is
'unsure'. Otherwise its distance to each known person is the distance to that person's
nearest enrolled photo (nearest neighbour over all photos: more photos per person cover
more poses); the face is that person when the distance is at most the threshold, else a
stranger."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facewatch.encodings import Gallery
from facewatch.verdicts import Verdict


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    threshold: float = 0.6
    min_face_px: int = 40
    min_sharpness: float = 15.0


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    name: str | None
    distance: float | None
    reason: str


def person_distances(encoding: np.ndarray, gallery: Gallery) -> dict[str, float]:
    """Each known person's distance: the nearest of their photos."""
    if len(gallery) == 0:
        return {}
    dists = np.linalg.norm(gallery.encodings.astype(np.float64) - encoding, axis=1)
    best: dict[str, float] = {}
    for name, dist in zip(gallery.names, dists.tolist(), strict=True):
        if dist < best.get(name, np.inf):
            best[name] = dist
    return best


def judge_face(
    encoding: np.ndarray | None,
    *,
    face_px: int,
    sharpness: float,
    gallery: Gallery | None,
    policy: MatchPolicy,
) -> Judgement:
    if face_px < policy.min_face_px:
        return Judgement("unsure", None, None, f"face {face_px}px is below {policy.min_face_px}px")
    if sharpness < policy.min_sharpness:
        return Judgement("unsure", None, None, f"face too blurred (sharpness {sharpness:.1f})")
    if gallery is None:
        return Judgement("unsure", None, None, "cannot decide: known encodings unavailable")
    if encoding is None:
        return Judgement("unsure", None, None, "face could not be encoded")
    distances = person_distances(encoding, gallery)
    if not distances:
        return Judgement("stranger", None, None, "household has no known people")
    name, dist = min(distances.items(), key=lambda item: item[1])
    if dist <= policy.threshold:
        return Judgement("known", name, dist, f"nearest {name} at {dist:.3f} <= {policy.threshold}")
    return Judgement("stranger", None, dist, f"nearest {name} at {dist:.3f} > {policy.threshold}")
