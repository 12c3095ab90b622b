import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.faces.gallery import Gallery
from facewatch.recognize.decisions import (
    MIN_PEOPLE_TO_ESTIMATE,
    MIN_THRESHOLD,
    PRIOR_IMPOSTOR,
    GalleryModel,
    Judgement,
    MatchPolicy,
    gallery_model,
    judge_face,
    judge_visit,
    person_distances,
    settled,
)
from facewatch.records import FaceState

POLICY = MatchPolicy(threshold=0.6, min_face_px=40, min_sharpness=15.0)
CENTRE = np.full(128, 0.05)


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v)


def at(*coords: float) -> np.ndarray:
    """A point given by its first coordinates (distances are then plain geometry)."""
    v = CENTRE.copy()
    v[: len(coords)] += coords
    return v


def gallery(*rows: tuple[str, np.ndarray]) -> Gallery:
    return Gallery(
        names=[n for n, _ in rows],
        encodings=np.array([e for _, e in rows], dtype=np.float32).reshape(-1, 128),
        photo_keys=[f"k{i}" for i in range(len(rows))],
        photo_etags=["e"] * len(rows),
    )


def crowd(people: int, spread: float, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Two photos each of `people` people, different people about `spread` apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(people):
        centre = unit(1000 + seed * 100 + p) * spread / np.sqrt(2)
        for _ in range(2):
            rows.append((f"p{p}", centre + rng.normal(scale=0.1 / np.sqrt(128), size=128)))
    return rows


def judge(encoding, g, face_px=100, sharp=100.0, policy=POLICY, negatives=None):
    return judge_face(
        encoding, face_px=face_px, sharpness=sharp, gallery=g, policy=policy, negatives=negatives
    )


def test_nearest_photo_of_each_person_counts():
    alice_a, alice_b, bob = unit(1), unit(2), unit(3)
    g = gallery(("alice", alice_a), ("bob", bob), ("alice", alice_b))
    d = person_distances(alice_b + 0.01, g)
    assert set(d) == {"alice", "bob"}
    assert d["alice"] == pytest.approx(np.linalg.norm(np.full(128, 0.01)), abs=1e-5)
    assert d["bob"] == pytest.approx(np.linalg.norm(bob - alice_b - 0.01), abs=1e-5)


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
    at_limit = alice + 0.5999 / np.sqrt(128)  # float32 storage: stay a hair inside
    assert judge(at_limit, g).verdict == "known"
    assert judge(at_limit, g, policy=MatchPolicy(threshold=0.5)).verdict == "stranger"


def test_the_threshold_tightens_with_each_person_a_stranger_is_compared_with():
    mean, sd = PRIOR_IMPOSTOR
    policy = MatchPolicy(threshold=0.6, false_accept_rate=0.02)

    def limit(people: int, mean: float = mean) -> float:
        model = GalleryModel(tuple(f"p{i}" for i in range(people)), np.zeros(0, np.intp), mean, sd, False)
        return model.threshold(policy)

    assert limit(1) == 0.6  # a 2% tail of one comparison lies beyond the cap
    assert limit(10) < 0.6
    assert limit(50) < limit(10)
    # Bonferroni: one person in 50 may be mistaken with 0.02 / 50 at most.
    assert limit(50) == pytest.approx(mean - 3.353 * sd, abs=2e-3)
    assert limit(50, mean=0.6) == MIN_THRESHOLD  # a gallery this crowded cannot be served
    assert GalleryModel((), np.zeros(0, np.intp), mean, sd, False).threshold(policy) == 0.6


def test_a_gallery_of_lookalikes_is_judged_more_strictly():
    far_apart, lookalikes = gallery(*crowd(8, 0.95)), gallery(*crowd(8, 0.5))
    assert gallery_model(far_apart).measured and gallery_model(lookalikes).measured
    assert gallery_model(lookalikes).impostor_mean == pytest.approx(0.5, abs=0.05)
    assert gallery_model(far_apart).threshold(POLICY) == 0.6
    assert gallery_model(lookalikes).threshold(POLICY) < 0.48
    # The same face at 0.48 from its nearest person: known among people who look nothing
    # alike, a stranger when everyone enrolled already looks that much alike.
    for g, verdict in ((far_apart, "known"), (lookalikes, "stranger")):
        photo = g.encodings[0].astype(np.float64)
        probe = photo + 0.48 * unit(77)
        assert judge(probe, g).verdict == verdict


def test_a_few_people_use_the_encoders_prior_not_their_own_few_distances():
    small = gallery(*crowd(MIN_PEOPLE_TO_ESTIMATE - 1, 0.5))
    assert not gallery_model(small).measured
    assert gallery_model(small).impostor_mean == PRIOR_IMPOSTOR[0]
    assert gallery_model(gallery(*crowd(MIN_PEOPLE_TO_ESTIMATE, 0.5))).measured


def test_the_model_is_built_once_per_gallery():
    g = gallery(*crowd(6, 0.9))
    assert gallery_model(g) is gallery_model(g)
    assert gallery_model(gallery(*crowd(6, 0.9))) is not gallery_model(g)


def test_a_face_about_as_near_to_two_people_is_not_named():
    g = gallery(("alice", at(0.0)), ("bob", at(1.0)))
    clear = at(0.3, 0.1)  # 0.32 from alice, 0.71 from bob
    assert judge(clear, g).name == "alice"
    torn = at(0.5, 0.45)  # 0.67 from both: beyond any threshold
    assert judge(torn, g).verdict == "stranger"
    close_call = at(0.46, 0.25)  # 0.52 from alice, 0.60 from bob: ratio 0.88 > 0.85
    verdict = judge(close_call, g)
    assert verdict.verdict == "stranger"
    assert "not clearly nearer than bob" in verdict.reason
    assert judge(close_call, g, policy=MatchPolicy(margin_ratio=1.0)).name == "alice"


def test_a_face_said_not_to_be_x_is_no_longer_x_but_x_still_is():
    g = gallery(("alice", at(0.0)), ("alice", at(0.0, 0.2)), ("bob", at(2.0)))
    lookalike = at(0.0, 0.0, 0.45)  # 0.45 from alice: named alice
    assert judge(lookalike, g).name == "alice"
    negatives = {"alice": np.array([at(0.0, 0.0, 0.5)])}  # the user said: not alice
    verdict = judge(lookalike, g, negatives=negatives)
    assert verdict.verdict == "stranger"
    assert "not alice" in verdict.reason
    # A's own photos, and faces nearer to A than to the negative, are still A.
    assert judge(at(0.0), g, negatives=negatives).name == "alice"
    assert judge(at(0.0, 0.1), g, negatives=negatives).name == "alice"
    # Negatives of someone else change nothing.
    assert judge(lookalike, g, negatives={"bob": np.array([lookalike])}).name == "alice"


def test_ruling_out_x_leaves_the_next_person():
    g = gallery(("alice", at(0.0)), ("carol", at(0.0, 0.8)), ("bob", at(3.0)))
    face = at(0.0, 0.37)  # 0.37 from alice, 0.43 from carol: too close a call for either
    assert judge(face, g).verdict == "stranger"
    named = judge(face, g, negatives={"alice": np.array([at(0.0, 0.35)])})
    assert named.name == "carol"
    assert named.distance == pytest.approx(0.43, abs=1e-4)


def test_small_or_blurred_faces_are_unsure_not_strangers():
    g = gallery(("alice", unit(1)))
    assert judge(unit(9), g, face_px=39).verdict == "unsure"
    assert judge(unit(9), g, sharp=3.0).verdict == "unsure"


def test_without_known_encodings_nobody_is_called_a_stranger():
    result = judge(unit(9), None)
    assert (result.verdict, result.state) == ("unsure", FaceState.CANNOT_DECIDE)
    assert "cannot decide" in result.reason


def test_a_household_that_knows_nobody_sees_only_strangers():
    assert judge(unit(9), gallery()).verdict == "stranger"


def test_the_policy_comes_from_settings():
    s = Settings(_env_file=None, match_threshold=0.55, match_false_accept_rate=0.01, match_margin_ratio=0.9)
    policy = MatchPolicy.from_settings(s)
    assert (policy.threshold, policy.false_accept_rate, policy.margin_ratio) == (0.55, 0.01, 0.9)
    assert policy.min_face_px == s.min_judge_face_px


def known(name: str, dist: float) -> Judgement:
    return Judgement("known", name, dist, "")


STRANGER = Judgement("stranger", None, 0.7, "")
UNSURE = Judgement("unsure", None, None, "")


def test_a_visit_is_the_person_most_of_its_judged_frames_name():
    visit = judge_visit([known("alice", 0.4), STRANGER, known("alice", 0.5), UNSURE, UNSURE])
    assert (visit.verdict, visit.name, visit.distance) == ("known", "alice", 0.45)


def test_one_lucky_frame_does_not_make_a_stranger_someone():
    visit = judge_visit([STRANGER, known("bob", 0.55), STRANGER])
    assert visit.verdict == "stranger"
    split = judge_visit([known("alice", 0.4), known("bob", 0.4)])
    assert split.verdict == "stranger"


def test_a_visit_of_unjudgeable_frames_is_unsure():
    assert judge_visit([UNSURE, UNSURE]).verdict == "unsure"
    assert judge_visit([]).verdict == "unsure"


def test_a_clear_verdict_is_settled_a_close_call_is_not():
    g = gallery(("alice", at(0.0)), ("bob", at(1.0)))
    assert settled(at(0.3, 0.1), gallery=g, policy=POLICY, slack=0.09)  # alice at 0.32
    assert settled(at(0.0, 0.0, 0.9), gallery=g, policy=POLICY, slack=0.09)  # nobody within 0.9
    assert not settled(at(0.0, 0.0, 0.55), gallery=g, policy=POLICY, slack=0.09)  # 0.55 vs T 0.6
    assert not settled(at(0.46, 0.25), gallery=g, policy=POLICY, slack=0.09)  # margin close call
    assert settled(at(0.0, 0.0, 0.55), gallery=g, policy=POLICY, slack=0.01)
    assert settled(at(0.0), gallery=None, policy=POLICY, slack=0.09)  # unsure whatever it is


def test_a_face_near_a_negative_is_not_settled():
    g = gallery(("alice", at(0.0)), ("bob", at(2.0)))
    face = at(0.0, 0.2)
    assert settled(face, gallery=g, policy=POLICY, slack=0.05)
    negatives = {"alice": np.array([at(0.0, 0.25)])}  # 0.05 from the face, alice 0.2
    assert not settled(face, gallery=g, policy=POLICY, slack=0.1, negatives=negatives)
    assert settled(face, gallery=g, policy=POLICY, slack=0.05, negatives=negatives)


@pytest.mark.parametrize("seed", range(3))
def test_a_settled_verdict_survives_every_move_within_the_slack(seed):
    """The promise recognize relies on: where `settled` says so, an encoding up to `slack`
    away is judged the same. Faces are drawn all over the decision boundaries."""
    rng = np.random.default_rng(seed)
    g = gallery(*crowd(6, 0.8, seed=seed))
    negatives = {"p0": np.array([g.encodings[0] + rng.normal(scale=0.04, size=128)])}
    slack, checked = 0.05, 0
    for _ in range(300):
        base = g.encodings[rng.integers(len(g))].astype(np.float64)
        face = base + rng.normal(size=128) * rng.uniform(0.1, 0.9) / np.sqrt(128)
        if not settled(face, gallery=g, policy=POLICY, slack=slack, negatives=negatives):
            continue
        checked += 1
        first = judge(face, g, negatives=negatives)
        for _ in range(10):
            step = rng.normal(size=128)
            moved = face + step / np.linalg.norm(step) * slack * rng.uniform(0.5, 1.0)
            again = judge(moved, g, negatives=negatives)
            assert (again.verdict, again.name) == (first.verdict, first.name)
    assert 50 < checked < 300  # both kinds of face were drawn
