from datetime import UTC, datetime, timedelta

import pytest

from facewatch.exceptions import BadKey
from facewatch.layout import FrameKey
from facewatch.recognize.strangers import (
    MAX_REPRESENTATIVES,
    MAX_STRANGERS,
    StrangerBook,
    expire,
    find_by_face,
    strangers_gallery,
)
from tests.unit.recognize.fake_faces import near, person
from tests.unit.recognize.stranger_memory import MEMORY, Memory

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def test_a_passer_by_seen_in_many_frames_of_one_visit_is_one_stranger():
    memory = Memory()
    bob = person(1)
    recalls = [
        memory.see(near(bob, 0.3, seed=i), T0 + timedelta(seconds=i), visit="visit-a") for i in range(12)
    ]
    assert len({r.stranger.stranger_id for r in recalls}) == 1
    assert recalls[0].reason == "first seen" and recalls[0].first_time
    last = recalls[-1].stranger
    assert (last.sightings, last.visits) == (12, 1)
    assert 1 <= len(last.representatives) <= MAX_REPRESENTATIVES
    assert last.stranger_id.startswith("stranger-")


def test_the_same_face_on_another_day_is_the_same_stranger_seen_twice():
    memory = Memory()
    bob = person(1)
    first = memory.see(bob, T0, visit="visit-a")
    again = memory.see(near(bob, 0.35), T0 + timedelta(days=3), visit="visit-b")
    assert again.stranger.stranger_id == first.stranger.stranger_id
    assert again.reason == "seen before" and not again.first_time
    assert again.stranger.visits == 2
    assert again.stranger.previous_seen == T0


def test_different_people_are_different_strangers():
    memory = Memory()
    ids = {memory.see(person(seed), T0 + timedelta(seconds=seed)).stranger.stranger_id for seed in range(6)}
    assert len(ids) == 6
    assert len(memory.strangers) == 6


def test_matching_uses_the_stricter_threshold_not_the_known_one():
    memory = Memory()
    bob = person(1)
    memory.see(bob, T0)
    # 0.58 is a known-person match at 0.6 but not the same stranger at 0.55.
    other = memory.see(near(bob, 0.58), T0 + timedelta(hours=1))
    assert other.reason == "first seen"
    assert len(memory.strangers) == 2


def test_a_sighting_of_a_visit_already_placed_joins_its_stranger_even_when_its_encoding_drifts():
    memory = Memory()
    bob = person(1)
    first = memory.see(bob, T0, visit="visit-a")
    # 0.58: beyond the same-person threshold, within the known-person one.
    turned = memory.see(near(bob, 0.58), T0 + timedelta(seconds=2), visit="visit-a")
    assert turned.stranger.stranger_id == first.stranger.stranger_id
    assert turned.stranger.visits == 1


def test_a_replayed_sighting_changes_nothing_and_repeats_its_crop():
    memory = Memory()
    bob = person(1)
    verdict = "home/door/20261125/140000000001-abcdef12#0"
    first = memory.see(bob, T0, verdict=verdict)
    before = list(memory.strangers)
    replay = memory.see(bob, T0, verdict=verdict)
    assert memory.strangers == before
    assert replay.stranger.sightings == 1
    assert replay.crop_key == first.crop_key is not None
    assert "replay" in replay.reason


def test_strangers_not_seen_for_the_memory_period_are_forgotten():
    memory = Memory()
    old = memory.see(person(1), T0)
    memory.see(person(2), T0 + MEMORY + timedelta(days=1))
    assert [s.stranger_id for s in memory.strangers] != [old.stranger.stranger_id]
    assert old.stranger.stranger_id not in {s.stranger_id for s in memory.strangers}
    back = memory.see(person(1), T0 + MEMORY + timedelta(days=2))
    assert back.first_time  # forgotten: a new stranger


def test_past_the_limit_the_least_recently_seen_strangers_are_forgotten_first():
    memory = Memory()
    for i in range(MAX_STRANGERS + 5):
        memory.see(
            person(1000 + i), T0 + timedelta(minutes=i), verdict=f"home/door/20261125/{i:012d}-abcdef12#0"
        )
    assert len(memory.strangers) <= MAX_STRANGERS + 1  # the limit, and the one just met
    kept, forgotten = expire(memory.strangers, T0 + timedelta(days=1), MEMORY, limit=3)
    assert [s.last_seen for s in kept] == sorted(s.last_seen for s in memory.strangers)[-3:]
    assert len(forgotten) == len(memory.strangers) - 3
    newest = max(memory.strangers, key=lambda s: s.last_seen)
    assert newest.stranger_id in {s.stranger_id for s in kept}


def test_only_faces_that_add_a_pose_become_representatives_with_a_crop():
    memory = Memory()
    bob = person(1)
    first = memory.see(bob, T0, visit="visit-a")
    same = memory.see(near(bob, 0.05), T0 + timedelta(seconds=1), visit="visit-a")
    pose = memory.see(near(bob, 0.4, seed=5), T0 + timedelta(seconds=2), visit="visit-a")
    assert first.crop_key and first.crop_key.endswith(".crop")
    assert first.crop_key.startswith(f"households/home/strangers/{first.stranger.stranger_id}/")
    assert same.crop_key is None
    assert pose.crop_key is not None
    assert len(pose.stranger.representatives) == 2


def test_the_book_round_trips_through_json_and_the_gallery_names_strangers():
    import json

    memory = Memory()
    for seed in range(3):
        memory.see(person(seed), T0 + timedelta(minutes=seed))
    book = StrangerBook(memory.strangers)
    again = StrangerBook.from_dict(json.loads(json.dumps(book.to_dict())))
    assert again.strangers == book.strangers
    gallery = strangers_gallery(again.strangers)
    assert gallery.people == sorted(s.stranger_id for s in again.strangers)


def test_a_face_of_a_frame_finds_its_stranger():
    memory = Memory()
    recall = memory.see(person(1), T0, box=(5, 6, 70, 71))
    key = recall.stranger.recent[0].frame_key
    assert find_by_face(memory.strangers, key, (5, 6, 70, 71)) == recall.stranger
    assert find_by_face(memory.strangers, key, (0, 0, 70, 71)) is None


def test_a_verdict_id_names_its_frame_and_face_and_nothing_else():
    key = FrameKey.new("home", "door", T0)
    assert FrameKey.from_verdict_id(key.verdict_id(2)) == (key, 2)
    for bad in [
        "",
        "home/door/20261125/x#0",
        f"{key.verdict_id(0)[:-2]}",
        "../door/20261125/140000000000-abcdef12#0",
    ]:
        with pytest.raises(BadKey):
            FrameKey.from_verdict_id(bad)


def test_an_edge_track_that_jumps_to_another_person_does_not_merge_two_strangers():
    memory = Memory()
    rose, kit = person(1), person(2)
    first = memory.see(rose, T0, visit="visit-a")
    jumped = memory.see(kit, T0 + timedelta(seconds=3), visit="visit-a")  # same visit: the track jumped
    assert jumped.stranger.stranger_id != first.stranger.stranger_id
    assert len(memory.strangers) == 2


def test_the_book_in_shards_holds_every_stranger_once_and_lists_every_representative():
    memory = Memory()
    for seed in range(40):
        memory.see(person(seed), T0 + timedelta(minutes=seed))
    book = StrangerBook(memory.strangers)
    shards = book.shards()
    assert sorted(s.stranger_id for part in shards.values() for s in part) == sorted(
        s.stranger_id for s in book.strangers
    )
    assert len(shards) > 1 and all(len(part) < 40 for part in shards.values())
    again = StrangerBook.from_shards(shards)
    assert sorted(again.strangers, key=lambda s: s.stranger_id) == sorted(
        book.strangers, key=lambda s: s.stranger_id
    )
    ids, rows = again.representative_encodings()
    assert rows.shape == (sum(len(s.representatives) for s in book.strangers), 128)
    assert set(ids) == {s.stranger_id for s in book.strangers}
