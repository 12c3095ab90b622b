"""Merging and splitting remembered strangers by hand: the pure rules (strangers.py)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from facewatch.exceptions import BadInput
from facewatch.layout import FrameKey, stranger_crop_key, stranger_crops_prefix
from facewatch.recognize.strangers import (
    MAX_RECENT,
    MAX_REPRESENTATIVES,
    CropMove,
    Representative,
    Stranger,
    StrangerBook,
    StrangerSighting,
    encoding_row,
    merge_strangers,
    new_stranger_id,
    split_stranger,
    split_stranger_id,
)
from tests.unit.recognize.fake_faces import near, person
from tests.unit.recognize.stranger_memory import Memory

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def seen(encoding, sightings, start, *, camera="door", first_visit=0, spread=0.3):
    """One stranger seen `sightings` times, a visit each, each face a new pose (so a
    representative while there is room), as remember() would keep them."""
    recent, reps = [], []
    for i in range(sightings):
        n = first_visit + i
        verdict = f"home/{camera}/20261125/14{n:02d}00000000-abcdef{n:02d}#0"
        frame, _ = FrameKey.from_verdict_id(verdict)
        recent.append(
            StrangerSighting(verdict, str(frame), camera, start + timedelta(minutes=10 * i), (10, 10, 80, 80))
        )
        if len(reps) < MAX_REPRESENTATIVES:
            face = near(encoding, spread, seed=n)
            reps.append(
                Representative(encoding_row(face), stranger_crop_key("home", f"stranger-{camera}", verdict))
            )
    return Stranger(
        stranger_id=f"stranger-{camera}",
        first_seen=recent[0].seen_at,
        last_seen=recent[-1].seen_at,
        sightings=sightings,
        visits=sightings,
        previous_seen=recent[-2].seen_at if sightings > 1 else None,
        representatives=tuple(reps),
        recent=tuple(recent),
        visit_ids=tuple(f"visit-{camera}-{first_visit + i}" for i in range(sightings)),
        cameras=(camera,),
    )


def test_merging_two_strangers_adds_up_what_both_were_seen_doing_and_moves_the_crops():
    keep = seen(person(1), 3, T0)
    other = seen(person(2), 4, T0 + timedelta(days=1), camera="gate", first_visit=10)

    merged, moves = merge_strangers("home", keep, other)

    assert merged.stranger_id == keep.stranger_id
    assert merged.sightings == keep.sightings + other.sightings == 7
    assert merged.visits == keep.visits + other.visits
    assert (merged.first_seen, merged.last_seen) == (keep.first_seen, other.last_seen)
    assert merged.previous_seen == other.previous_seen  # the latest visit is other's
    assert merged.cameras == ("door", "gate")
    assert set(merged.visit_ids) == set(keep.visit_ids) | set(other.visit_ids)
    assert [s.verdict_id for s in merged.recent] == [
        s.verdict_id for s in sorted([*keep.recent, *other.recent], key=lambda s: s.seen_at)
    ]
    assert len(merged.representatives) == min(
        MAX_REPRESENTATIVES, len(keep.representatives) + len(other.representatives)
    )
    # Every crop of the merged stranger is under keep's id; each of other's moves there or goes.
    prefix = stranger_crops_prefix("home", keep.stranger_id)
    assert all(k.startswith(prefix) for k in merged.crop_keys)
    assert {m.source for m in moves} == set(other.crop_keys)
    kept_targets = {m.target for m in moves if m.target}
    assert kept_targets == set(merged.crop_keys) - set(keep.crop_keys)
    assert merged.crop_keys[: len(keep.crop_keys)] == keep.crop_keys


def test_a_visit_both_were_seen_in_counts_once_and_full_memories_keep_the_most_varied_faces():
    keep = seen(person(1), MAX_REPRESENTATIVES + 2, T0)
    other = replace(
        seen(person(2), 3, T0 + timedelta(hours=1), camera="gate", first_visit=20),
        visit_ids=("visit-door-0", "visit-gate-20"),
        visits=2,
    )

    merged, moves = merge_strangers("home", keep, other)

    assert merged.visits == keep.visits + other.visits - 1
    assert merged.visit_ids.count("visit-door-0") == 1
    assert merged.representatives == keep.representatives  # keep was full: nothing of other's fits
    assert {m.source for m in moves} == set(other.crop_keys) and all(m.target is None for m in moves)
    assert len(merged.recent) == len(keep.recent) + len(other.recent) <= MAX_RECENT


def test_with_room_for_some_the_faces_least_like_those_kept_are_taken():
    keep = seen(person(1), MAX_REPRESENTATIVES - 1, T0, spread=0.1)
    other = seen(person(1), 3, T0 + timedelta(hours=1), camera="gate", first_visit=30, spread=0.1)
    far = Representative(encoding_row(near(person(1), 0.6, seed=7)), other.representatives[1].crop_key)
    other = replace(other, representatives=(other.representatives[0], far, other.representatives[2]))

    merged, moves = merge_strangers("home", keep, other)

    assert len(merged.representatives) == MAX_REPRESENTATIVES
    assert merged.representatives[-1].encoding == far.encoding
    assert [m.target is not None for m in moves] == [False, True, False]


def test_merging_a_stranger_with_itself_is_refused():
    only = seen(person(1), 2, T0)
    with pytest.raises(BadInput, match="itself"):
        merge_strangers("home", only, only)


def test_splitting_a_face_off_makes_it_a_stranger_of_its_own_and_keeps_the_rest():
    stranger = seen(person(1), 4, T0, spread=0.3)
    assert len(stranger.representatives) >= 2
    wrong = stranger.recent[-1]  # the last sighting became a representative (a new pose)
    assert any(wrong.verdict_id.replace("/", "_").replace("#", "_") in k for k in stranger.crop_keys)

    left, alone, move = split_stranger("home", stranger, wrong, visit_id="visit-door-3")

    assert alone.stranger_id == split_stranger_id(wrong.verdict_id) != new_stranger_id(wrong.verdict_id)
    assert (alone.sightings, alone.visits, alone.recent) == (1, 1, (wrong,))
    assert alone.first_seen == alone.last_seen == wrong.seen_at
    assert alone.visit_ids == ("visit-door-3",) and alone.cameras == ("door",)
    assert isinstance(move, CropMove) and move.target == alone.crop_keys[0]
    assert move.source in stranger.crop_keys and move.source not in left.crop_keys
    assert left.sightings == stranger.sightings - 1
    assert wrong not in left.recent
    assert left.last_seen == max(s.seen_at for s in left.recent) < stranger.last_seen
    assert left.first_seen == stranger.first_seen
    book = StrangerBook([left, alone])
    assert StrangerBook.from_dict(book.to_dict()) == book


def test_a_face_kept_only_as_a_recent_sighting_is_split_with_the_encoding_given():
    memory = Memory()
    bob = person(3)
    for i in range(3):  # near copies: only the first becomes a representative
        memory.see(near(bob, 0.05, seed=i), T0 + timedelta(minutes=i), visit="visit-1")
    (stranger,) = memory.strangers
    assert len(stranger.representatives) == 1
    face = stranger.recent[1]

    with pytest.raises(BadInput, match="cannot be encoded"):
        split_stranger("home", stranger, face)
    left, alone, move = split_stranger("home", stranger, face, encoding=near(bob, 0.05, seed=1))
    assert move is None and len(alone.representatives) == 1
    assert left.representatives == stranger.representatives


def test_the_last_face_or_the_only_representative_is_not_split_off():
    memory = Memory()
    memory.see(person(4), T0)
    (once,) = memory.strangers
    with pytest.raises(BadInput, match="last face"):
        split_stranger("home", once, once.recent[0], encoding=person(4))
    memory.see(near(person(4), 0.05), T0 + timedelta(minutes=1), visit=once.visit_ids[0])
    (twice,) = memory.strangers
    assert twice.sightings == 2 and len(twice.representatives) == 1
    with pytest.raises(BadInput, match="last face"):
        split_stranger("home", twice, twice.recent[0])  # its only representative


def test_a_face_of_someone_else_is_not_split_off():
    stranger = seen(person(1), 2, T0)
    other = seen(person(2), 2, T0, camera="gate")
    frame, _ = FrameKey.from_verdict_id(other.recent[0].verdict_id)
    with pytest.raises(BadInput, match="not a face kept"):
        split_stranger("home", stranger, other.recent[0], encoding=person(2))
    assert str(frame).startswith("households/home/frames/gate/")
