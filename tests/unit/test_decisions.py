import numpy as np
import pytest

from facewatch.decisions import MatchPolicy, judge_face, person_distances
from facewatch.encodings import Gallery

POLICY = MatchPolicy(threshold=0.6, min_face_px=40, min_sharpness=15.0)


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v)


def gallery(*rows: tuple[str, np.ndarray]) -> Gallery:
    return Gallery(
        names=[n for n, _ in rows],
        encodings=np.array([e for _, e in rows], dtype=np.float32).reshape(-1, 128),
        photo_keys=[f"k{i}" for i in range(len(rows))],
        photo_etags=["e"] * len(rows),
    )


def judge(encoding, g, face_px=100, sharp=100.0):
    return judge_face(encoding, face_px=face_px, sharpness=sharp, gallery=g, policy=POLICY)


def test_nearest_photo_of_each_person_counts():
    alice_a, alice_b, bob = unit(1), unit(2), unit(3)
    g = gallery(("alice", alice_a), ("alice", alice_b), ("bob", bob))
    d = person_distances(alice_b + 0.01, g)
    assert set(d) == {"alice", "bob"}
    assert d["alice"] == pytest.approx(np.linalg.norm(np.full(128, 0.01)), abs=1e-5)


def test_known_within_threshold_stranger_beyond():
    alice = unit(1)
    g = gallery(("alice", alice))
    near = alice + 0.5 / np.sqrt(128)  # distance 0.5
    far = alice + 0.7 / np.sqrt(128)  # distance 0.7
    assert judge(near, g).verdict == "known"
    assert judge(near, g).name == "alice"
    verdict = judge(far, g)
    assert verdict.verdict == "stranger"
    assert verdict.name is None
    assert verdict.distance == pytest.approx(0.7, abs=1e-4)


def test_threshold_is_inclusive_and_configurable():
    alice = unit(1)
    g = gallery(("alice", alice))
    at = alice + 0.5999 / np.sqrt(128)  # float32 storage: stay a hair inside
    assert judge(at, g).verdict == "known"
    strict = MatchPolicy(threshold=0.5)
    assert judge_face(at, face_px=100, sharpness=100, gallery=g, policy=strict).verdict == "stranger"


def test_small_or_blurred_faces_are_unsure_not_strangers():
    g = gallery(("alice", unit(1)))
    assert judge(unit(9), g, face_px=39).verdict == "unsure"
    assert judge(unit(9), g, sharp=3.0).verdict == "unsure"


def test_without_known_encodings_nobody_is_called_a_stranger():
    result = judge(unit(9), None)
    assert result.verdict == "unsure"
    assert "cannot decide" in result.reason


def test_a_household_that_knows_nobody_sees_only_strangers():
    assert judge(unit(9), gallery()).verdict == "stranger"
