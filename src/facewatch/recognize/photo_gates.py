"""Whether a photo may teach the known set who someone is: pure rules on what was measured
of it (photo_checks.measure_photo), used by every door that enrolls a photo (`facewatch
enroll`, the console's People page, naming a camera face on the console or by a feedback
link).

A photo is refused when recognize could not judge its face either (no face; several, so
which one is meant; narrower than the judge's minimum; blurred under the judge's
sharpness), with the same limits as decisions.judge_face: one source of truth, so a known
photo never holds a face the judge would call unsure. Each refusal says what to take
instead. A photo is accepted with warnings when it teaches less than it could: a grey (IR
camera) picture, a face turned far, a near copy of one of the person's photos already there."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from facewatch.frames import Box

if TYPE_CHECKING:
    from facewatch.config import Settings

MAX_YAW_DEGREES = 45.0
"""Past half-way to a profile, one eye and one cheek are mostly hidden: the photo teaches
one side of a person, and frontal faces at the door match it poorly."""
NEAR_DUPLICATE_DISTANCE = 0.1
"""Twice encodings.QUICK_DISTANCE_ERROR (the most re-encoding the same face moves a
distance): nearer than this to one of the person's photos, the photo is that photo again
(re-saved, resized) and adds nothing; different photos of one person lie at 0.3-0.5, and the
match threshold is 0.4-0.6."""


class Refusal(StrEnum):
    NO_FACE = "no-face"
    SEVERAL_FACES = "several-faces"
    TOO_SMALL = "too-small"
    TOO_BLURRED = "too-blurred"


class Caution(StrEnum):
    GRAYSCALE = "grayscale"
    TURNED = "turned"
    NEAR_DUPLICATE = "near-duplicate"


@dataclass(frozen=True, slots=True)
class GateLimits:
    min_face_px: int = 40
    """Settings.min_judge_face_px: the narrowest face recognize judges."""
    min_sharpness: float = 15.0
    """Settings.min_sharpness: under it recognize calls a face too blurred to judge."""
    max_yaw_degrees: float = MAX_YAW_DEGREES
    near_duplicate: float = NEAR_DUPLICATE_DISTANCE

    @classmethod
    def from_settings(cls, settings: Settings) -> GateLimits:
        return cls(min_face_px=settings.min_judge_face_px, min_sharpness=settings.min_sharpness)


@dataclass(frozen=True, slots=True)
class MeasuredPhoto:
    """What enrollment needs to know of a photo, measured once (no I/O after this)."""

    width: int
    height: int
    faces: tuple[Box, ...]
    grayscale: bool = False
    sharpness: float | None = None
    """Of the largest face (as are the two below)."""
    yaw_degrees: float | None = None
    nearest_own: float | None = None
    """Encoding distance to the nearest photo the person already has (None: none yet)."""


@dataclass(frozen=True, slots=True)
class Refused:
    kind: Refusal
    text: str
    """For a person: what is wrong, and what to take instead."""


@dataclass(frozen=True, slots=True)
class PhotoWarning:
    kind: Caution
    text: str


@dataclass(frozen=True, slots=True)
class Accepted:
    warnings: tuple[PhotoWarning, ...] = ()


PhotoVerdict = Refused | Accepted


def _where(box: Box, width: int, height: int) -> str:
    """A face's place in the photo in words a person finds it by."""
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    across = "left" if cx < width / 3 else "right" if cx > 2 * width / 3 else "middle"
    down = "top" if cy < height / 3 else "bottom" if cy > 2 * height / 3 else ""
    return f"{down} {across}".strip() if down else across


def judge_photo(photo: MeasuredPhoto, limits: GateLimits) -> PhotoVerdict:
    if not photo.faces:
        return Refused(
            Refusal.NO_FACE,
            "no face found: take a photo of one person facing the camera, the face clearly visible",
        )
    # Faces narrower than the judge's minimum are the background (passers-by, a poster):
    # recognize would not judge them, and they leave no doubt about whom the photo shows.
    judgeable = [b for b in photo.faces if min(b.w, b.h) >= limits.min_face_px]
    if len(judgeable) > 1:
        ordered = sorted(judgeable, key=lambda b: (b.x, b.y))
        w, h = photo.width, photo.height
        places = ", ".join(f"{_where(b, w, h)} ({b.w}px at {b.x},{b.y})" for b in ordered)
        text = f"{len(judgeable)} faces ({places}): crop the photo to one person"
        return Refused(Refusal.SEVERAL_FACES, text)
    face = max(photo.faces, key=lambda b: b.area)
    face_px = min(face.w, face.h)
    if face_px < limits.min_face_px:
        return Refused(
            Refusal.TOO_SMALL,
            f"the face is {face_px}px wide, under the {limits.min_face_px}px recognize needs: "
            f"take a photo in which the face is at least {limits.min_face_px}px wide "
            "(closer, or less cropped)",
        )
    if photo.sharpness is not None and photo.sharpness < limits.min_sharpness:
        return Refused(
            Refusal.TOO_BLURRED,
            f"the face is too blurred (sharpness {photo.sharpness:.1f}, recognize needs "
            f"{limits.min_sharpness:g}): take a sharper photo, in daylight, holding still",
        )
    warnings: list[PhotoWarning] = []
    if photo.grayscale:
        warnings.append(
            PhotoWarning(
                Caution.GRAYSCALE,
                "a grey (night/IR) photo: add a colour one too, daylight faces match it poorly",
            )
        )
    if photo.yaw_degrees is not None and photo.yaw_degrees > limits.max_yaw_degrees:
        warnings.append(
            PhotoWarning(
                Caution.TURNED,
                f"the face is turned far (about {photo.yaw_degrees:.0f}°): add a photo facing the camera too",
            )
        )
    if photo.nearest_own is not None and photo.nearest_own < limits.near_duplicate:
        warnings.append(
            PhotoWarning(
                Caution.NEAR_DUPLICATE,
                f"nearly the same as a photo already there (distance {photo.nearest_own:.2f}): "
                "it adds little; another day, light or angle adds more",
            )
        )
    return Accepted(tuple(warnings))
