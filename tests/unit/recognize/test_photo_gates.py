"""The enrollment gates as pure rules on a measured photo: each refusal, each warning, and a
control photo that passes clean. The limits are recognize's own (Settings)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.faces.pose import JAW_LEFT, JAW_RIGHT, NOSE_TIP, yaw_degrees
from facewatch.frames import Box
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.photo_gates import (
    Accepted,
    Caution,
    GateLimits,
    MeasuredPhoto,
    Refusal,
    Refused,
    judge_photo,
)

LIMITS = GateLimits.from_settings(Settings(_env_file=None))
FACE = Box(200, 100, 160, 160)


def photo(**changes: object) -> MeasuredPhoto:
    base: dict[str, object] = {
        "width": 640,
        "height": 480,
        "faces": (FACE,),
        "sharpness": 300.0,
        "yaw_degrees": 5.0,
        "nearest_own": 0.4,
    }
    return MeasuredPhoto(**{**base, **changes})  # type: ignore[arg-type]


def test_a_sharp_frontal_colour_photo_of_one_face_passes_without_a_warning():
    assert judge_photo(photo(), LIMITS) == Accepted(())
    assert judge_photo(photo(nearest_own=None, yaw_degrees=None), LIMITS) == Accepted(())


def test_the_limits_are_the_judges_own_and_the_defaults_agree_with_the_settings():
    policy = MatchPolicy.from_settings(Settings(_env_file=None))
    assert (LIMITS.min_face_px, LIMITS.min_sharpness) == (policy.min_face_px, policy.min_sharpness)
    assert GateLimits() == LIMITS
    changed = GateLimits.from_settings(Settings(_env_file=None, min_judge_face_px=90, min_sharpness=40))
    assert (changed.min_face_px, changed.min_sharpness) == (90, 40)


def test_no_face_is_refused_and_says_what_to_take():
    verdict = judge_photo(photo(faces=()), LIMITS)
    assert isinstance(verdict, Refused) and verdict.kind is Refusal.NO_FACE
    assert "take a photo" in verdict.text


def test_several_faces_are_refused_saying_how_many_and_where():
    faces = (Box(20, 20, 80, 80), FACE, Box(540, 300, 90, 90))
    verdict = judge_photo(photo(faces=faces), LIMITS)
    assert isinstance(verdict, Refused) and verdict.kind is Refusal.SEVERAL_FACES
    assert verdict.text.startswith("3 faces (top left (80px at 20,20), middle (160px at 200,100), ")
    assert "bottom right (90px at 540,300)" in verdict.text and "crop the photo to one person" in verdict.text


def test_a_face_in_the_background_too_small_to_judge_does_not_count_as_another():
    background = Box(10, 10, LIMITS.min_face_px - 1, LIMITS.min_face_px - 1)
    assert judge_photo(photo(faces=(FACE, background)), LIMITS) == Accepted(())
    verdict = judge_photo(photo(faces=(FACE, Box(10, 10, LIMITS.min_face_px, LIMITS.min_face_px))), LIMITS)
    assert isinstance(verdict, Refused) and verdict.kind is Refusal.SEVERAL_FACES


def test_a_face_narrower_than_the_judges_minimum_is_refused_with_the_size_to_take():
    n = LIMITS.min_face_px
    assert isinstance(judge_photo(photo(faces=(Box(5, 5, n, n),)), LIMITS), Accepted)
    verdict = judge_photo(photo(faces=(Box(5, 5, n - 1, n + 10),)), LIMITS)
    assert isinstance(verdict, Refused) and verdict.kind is Refusal.TOO_SMALL
    assert f"at least {n}px wide" in verdict.text


def test_a_face_blurred_under_the_judges_sharpness_is_refused():
    assert isinstance(judge_photo(photo(sharpness=LIMITS.min_sharpness), LIMITS), Accepted)
    verdict = judge_photo(photo(sharpness=LIMITS.min_sharpness - 0.1), LIMITS)
    assert isinstance(verdict, Refused) and verdict.kind is Refusal.TOO_BLURRED
    assert "sharper photo, in daylight" in verdict.text


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"grayscale": True}, Caution.GRAYSCALE),
        ({"yaw_degrees": 50.0}, Caution.TURNED),
        ({"nearest_own": 0.05}, Caution.NEAR_DUPLICATE),
    ],
)
def test_warnings_accept_the_photo_but_say_so(changes: dict[str, object], kind: Caution):
    verdict = judge_photo(photo(**changes), LIMITS)
    assert isinstance(verdict, Accepted)
    assert [w.kind for w in verdict.warnings] == [kind]


def test_all_three_warnings_come_together():
    verdict = judge_photo(photo(grayscale=True, yaw_degrees=80.0, nearest_own=0.0), LIMITS)
    assert isinstance(verdict, Accepted) and len(verdict.warnings) == 3


def _points(nose_offset: float) -> np.ndarray:
    pts = np.zeros((68, 2))
    pts[JAW_LEFT], pts[JAW_RIGHT] = (100, 0), (200, 0)
    pts[NOSE_TIP] = (150 + 50 * nose_offset, 0)
    return pts


def test_yaw_is_the_arcsine_of_the_noses_offset_from_the_middle():
    assert yaw_degrees(_points(0.0)) == 0.0
    assert yaw_degrees(_points(0.5)) == pytest.approx(30.0)
    assert yaw_degrees(_points(-math.sqrt(0.5))) == pytest.approx(45.0)
    assert yaw_degrees(_points(1.4)) == 90.0
