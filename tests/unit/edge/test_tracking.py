"""The edge agent's decisions on plain data: following faces, and which frames to upload."""

import itertools
import math

from facewatch.edge.tracking import (
    FaceView,
    PolicyState,
    Track,
    TrackParams,
    UploadPolicy,
    decide,
    face_quality,
    forget,
    step_tracks,
)
from facewatch.frames import Box


def walk(tracks, frames, next_id=1, **kwargs):
    """Feed (time, [boxes]) in order; the track id given to each detection, per frame."""
    ids = []
    for now, boxes in frames:
        step = step_tracks(tracks, boxes, now, next_id=next_id, **kwargs)
        tracks, next_id = step.tracks, step.next_id
        ids.append([step.matched[i] for i in range(len(boxes))])
    return tracks, ids


# --- tracking ----------------------------------------------------------------------------


def test_a_walking_face_keeps_one_track_between_detections_a_few_frames_apart():
    # 80 px face crossing the view at 4 face widths a second, detected every 0.2 s: it moves
    # 0.8 face widths between detections, too far for plain IoU to join them.
    frames = [(t / 5, [Box(100 + int(64 * t), 200, 80, 80)]) for t in range(10)]
    _, ids = walk((), frames)
    assert {i for (i,) in ids} == {1}


def test_two_faces_walking_past_each_other_keep_their_own_tracks():
    frames = [(t / 5, [Box(100 + 30 * t, 200, 80, 80), Box(500 - 30 * t, 200, 80, 80)]) for t in range(6)]
    _, ids = walk((), frames)
    assert all(pair == [1, 2] for pair in ids)


def test_a_face_appearing_far_away_after_a_gap_is_a_new_person():
    # The first person left; another appears across the frame 0.8 s later. Joining them
    # would let the second continue the first one's visit without an alert.
    frames = [(0.0, [Box(50, 50, 80, 80)]), (0.2, [Box(60, 50, 80, 80)]), (1.0, [Box(500, 300, 80, 80)])]
    _, ids = walk((), frames)
    assert ids == [[1], [1], [2]]


def test_someone_entering_where_another_just_left_is_a_new_person():
    # A walks right and out of view at 2 face widths a second; the ticks after that look
    # and do not find A; B steps in at the same edge half a second later.
    a = [(t / 5, [Box(600 + 44 * t, 200, 110, 110)]) for t in range(6)]
    gone = [(1.2, []), (1.4, [])]
    b = [(1.6, [Box(850, 205, 110, 110)]), (1.8, [Box(820, 205, 110, 110)])]
    _, ids = walk((), a + gone + b)
    assert ids[-1] == ids[-2] != ids[0]


def test_a_walking_face_missed_by_one_tick_keeps_its_track():
    frames = [(t / 5, [Box(100 + 30 * t, 200, 80, 80)]) for t in range(5)]
    frames[2] = (0.4, [])  # the detector flickered
    _, ids = walk((), frames)
    assert {i for boxes in ids for i in boxes} == {1}


def test_a_very_different_size_is_not_the_same_face():
    frames = [(0.0, [Box(100, 100, 60, 60)]), (0.2, [Box(100, 100, 150, 150)])]
    _, ids = walk((), frames)
    assert ids == [[1], [2]]


def test_a_track_looked_for_and_not_found_ends_after_max_age():
    params = TrackParams(max_age=1.0)
    tracks, _ = walk((), [(0.0, [Box(100, 100, 80, 80)])], params=params)
    step = step_tracks(tracks, [], 0.5, next_id=2, params=params)
    assert [t.id for t in step.tracks] == [1] and step.tracks[0].misses == 1
    step = step_tracks(step.tracks, [], 1.0, next_id=2, params=params)
    assert step.ended == (1,) and step.tracks == ()


def test_a_track_outside_the_searched_regions_neither_gains_nor_loses():
    tracks, _ = walk((), [(0.0, [Box(100, 100, 80, 80)])])
    step = step_tracks(tracks, [], 2.0, next_id=2, searched=[Box(400, 0, 200, 200)])
    assert step.tracks == tracks and step.ended == ()


def test_a_track_nothing_vouched_for_ends_after_max_unseen_even_unsearched():
    tracks, _ = walk((), [(0.0, [Box(100, 100, 80, 80)])])
    step = step_tracks(tracks, [], 3.0, next_id=2, searched=[Box(400, 0, 200, 200)])
    assert step.ended == (1,) and step.tracks == ()


def test_a_jittery_first_step_does_not_fling_the_prediction_away():
    # Two detections one frame apart, 60 px apart: 1800 px/s if taken literally, which would
    # put the prediction off screen a few ticks later.
    tracks, _ = walk((), [(0.0, [Box(1533, 377, 93, 93)]), (1 / 30, [Box(1473, 425, 93, 93)])])
    (track,) = tracks
    assert math.hypot(track.vx, track.vy) <= TrackParams().max_speed * 93 + 1e-6


def test_a_vouched_track_stays_alive_without_a_detection():
    tracks, _ = walk((), [(0.0, [Box(100, 100, 80, 80)]), (0.2, [Box(100, 100, 80, 80)])])
    for now in (1.0, 2.0, 3.0):
        step = step_tracks(tracks, [], now, next_id=2, vouched=[1])
        tracks = step.tracks
    assert [t.id for t in tracks] == [1] and tracks[0].last_seen == 3.0 and tracks[0].hits == 2


def test_prediction_follows_the_estimated_velocity():
    track = Track(1, Box(100, 100, 50, 50), born=0, last_seen=1.0, hits=3, vx=100.0, vy=0.0)
    assert track.predicted(1.2).x == 120
    assert track.predicted(10.0).x == 150  # extrapolated at most half a second


# --- upload policy ----------------------------------------------------------------------

POLICY = UploadPolicy(interval=0.5, prefer_window=0.2, min_gap=1 / 3, min_hits=2)


def run_policy(timeline, policy=POLICY, sent_at=None):
    """timeline: (time, [FaceView]) per frame; returns the capture times of the frames sent
    (and appends the times they were sent at to `sent_at`, if given)."""
    state, sent, held_time = PolicyState(), [], None
    for now, views in timeline:
        state, decision = decide(views, now, state, policy)
        if decision.send == "current":
            sent.append(now)
        elif decision.send == "held":
            sent.append(held_time)
        if decision.send != "none" and sent_at is not None:
            sent_at.append(now)
        if decision.hold_current:
            held_time = now
    return sent, state


def test_an_unconfirmed_face_is_never_sent():
    sent, _ = run_policy([(t / 10, [FaceView(1, Box(0, 0, 80, 80), hits=1)]) for t in range(30)])
    assert sent == []


def test_a_confirmed_face_is_sent_at_once_then_about_once_per_interval():
    timeline = [(t / 10, [FaceView(1, Box(0, 0, 80, 80), hits=2 + t)]) for t in range(31)]
    sent, _ = run_policy(timeline)
    assert sent[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    # due `lookahead` early, then the best frame of `prefer_window`
    assert all(0.5 - 0.2 - 1e-9 <= g <= 0.5 + 0.2 + 1e-9 for g in gaps)
    # every second the face is in view has a frame of it
    assert {int(t) for t in sent} == {0, 1, 2}


def test_a_face_found_only_now_and_then_is_sent_when_found_if_nearly_due():
    face = [FaceView(1, Box(0, 0, 80, 80), hits=5)]
    timeline = [(0.0, face), (0.2, []), (0.4, face), (0.6, []), (0.8, []), (1.0, []), (1.2, [])]
    sent, _ = run_policy(timeline)
    assert sent == [0.0, 0.4]  # the next look did not find it: the frame it was in goes
    strict, _ = run_policy(timeline, UploadPolicy(interval=0.5, lookahead=0.0))
    assert strict == [0.0]  # waiting for it to be due would have sent nothing more


def test_a_due_face_is_sent_in_the_best_frame_of_the_window():
    def view(now, quality):
        return (now, [FaceView(1, Box(0, 0, 80, 80), hits=5, quality=quality)])

    timeline = [view(0.0, 50), view(0.5, 10), view(0.6, 90), view(0.7, 20), view(0.8, 30)]
    sent, _ = run_policy(timeline)
    assert sent == [0.0, 0.6]


def test_a_crowd_shares_frames_rather_than_multiplying_them():
    faces = [FaceView(i, Box(100 * i, 0, 60, 60), hits=3) for i in range(1, 9)]
    timeline = [(t / 10, faces) for t in range(21)]
    sent_at = []
    sent, state = run_policy(timeline, sent_at=sent_at)
    assert all(b - a >= 1 / 3 - 1e-9 for a, b in itertools.pairwise(sent_at))
    assert len(sent) <= 7  # 2 s at one frame per min_gap, for eight faces
    assert set(state.last_upload) == set(range(1, 9))  # every face is in the frames sent


def test_a_new_face_is_sent_at_the_first_free_slot_even_while_another_is_held():
    old = FaceView(1, Box(0, 0, 80, 80), hits=5)
    new = FaceView(2, Box(300, 0, 80, 80), hits=2)
    state, _ = decide([old], 0.0, PolicyState(), POLICY)
    state, decision = decide([old], 0.5, state, POLICY)
    assert decision.send == "none" and decision.hold_current  # old is due: wait for a better view
    state, decision = decide([old, new], 0.55, state, POLICY)
    assert decision.send == "current"
    assert state.last_upload == {1: 0.55, 2: 0.55}


def test_forgetting_ended_tracks():
    state = PolicyState(last_upload={1: 0.0, 2: 1.0})
    assert forget(state, [1]).last_upload == {2: 1.0}
    assert forget(state, []) is state


def test_face_quality_prefers_sharp_over_large_and_blurred():
    assert face_quality(100, 120) > face_quality(300, 20)
    assert face_quality(1000, 100) == face_quality(150, 100)  # no gain past the encoder's size
    assert face_quality(100, -1) == 0
