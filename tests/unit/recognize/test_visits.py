import json
from datetime import UTC, datetime, timedelta

from facewatch.household.rules import DISARMED_DETAIL, away_switch_holds
from facewatch.recognize.visits import (
    MAX_TRACK_VOTES,
    Sighting,
    Visit,
    VisitBook,
    VisitPolicy,
    Vote,
    assign,
    place,
    record_votes,
    track_key,
)
from facewatch.records import HeldBack, HeldBackBy
from tests.unit.recognize.fake_faces import near, person

POLICY = VisitPolicy(window=timedelta(minutes=5), cooldown=timedelta(minutes=30), same_person=0.55)
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class Book:
    """Applies sightings one after another, as the store does."""

    def __init__(self):
        self.visits: list[Visit] = []
        self.n = 0

    def see(self, encoding, at, *, camera="door", track=None, frame=None, alert_id=None, away=None):
        self.n += 1
        sighting = Sighting(frame or f"f{self.n}", camera, at, encoding, track)
        self.visits, result = assign(
            sighting,
            self.visits,
            now=at,
            policy=POLICY,
            new_visit_id=f"v{self.n}",
            alert_id=alert_id or f"a{self.n}",
            away=away,
        )
        return result


def test_one_person_standing_at_the_door_is_one_visit_one_alert():
    book = Book()
    alice = person(1)
    results = [book.see(near(alice, 0.3, seed=i), T0 + timedelta(seconds=10 * i)) for i in range(30)]
    assert [r.alert for r in results] == [True] + [False] * 29
    assert len({r.visit.visit_id for r in results}) == 1
    assert results[-1].visit.frames == 30
    assert "already alerted" in results[-1].reason
    assert results[0].held_back is None
    assert {r.held_back_by for r in results[1:]} == {HeldBackBy.OPEN_VISIT}


def test_two_strangers_in_one_window_are_two_visits_two_alerts():
    book = Book()
    first = book.see(person(1), T0)
    second = book.see(person(2), T0 + timedelta(seconds=5))
    assert first.alert and second.alert
    assert first.visit.visit_id != second.visit.visit_id


def test_the_edge_track_keeps_a_turning_head_in_its_visit():
    book = Book()
    alice = person(1)
    book.see(alice, T0, track=7)
    profile = near(alice, 0.65)  # too far by encoding alone
    result = book.see(profile, T0 + timedelta(seconds=1), track=7)
    assert not result.alert
    someone_else = book.see(person(3), T0 + timedelta(seconds=2), camera="garden", track=7)
    assert someone_else.alert  # a track id means nothing on another camera


def test_back_within_the_cooldown_is_silent_after_it_a_new_alert():
    book = Book()
    alice = person(1)
    assert book.see(alice, T0).alert
    back = book.see(near(alice, 0.3), T0 + timedelta(minutes=20))  # visit closed, cooldown on
    assert not back.alert and back.held_back_by is HeldBackBy.OPEN_VISIT
    assert back.reason == "seen again within the cooldown of visit v1"
    later = book.see(near(alice, 0.3), T0 + timedelta(minutes=60))
    assert later.alert
    assert later.reason == "new visit"


def test_a_long_stay_stays_one_visit():
    book = Book()
    alice = person(1)
    for minute in range(0, 120, 2):
        result = book.see(near(alice, 0.2, seed=minute), T0 + timedelta(minutes=minute))
    assert not result.alert
    assert result.visit.frames == 60


def test_replaying_a_recorded_sighting_changes_nothing_and_repeats_its_answer():
    book = Book()
    alice = person(1)
    first = book.see(alice, T0, frame="frame-1", alert_id="alert-1")
    before = list(book.visits)
    again = book.see(alice, T0, frame="frame-1", alert_id="alert-1")
    assert again.alert and again.visit.alert_id == first.visit.alert_id == "alert-1"
    assert book.visits == before
    # A later frame of the same visit, replayed, stays silent.
    book.see(near(alice, 0.2), T0 + timedelta(seconds=5), frame="frame-2", alert_id="alert-2")
    replay = book.see(near(alice, 0.2), T0 + timedelta(seconds=5), frame="frame-2", alert_id="alert-2")
    assert not replay.alert
    assert replay.held_back == HeldBack(by=HeldBackBy.OPEN_VISIT, detail="replay of a recorded sighting")


AWAY = away_switch_holds(armed=False)


def test_a_disarmed_visit_never_alerts_and_each_of_its_frames_says_the_switch_held_it_back():
    book = Book()
    alice = person(1)
    first = book.see(alice, T0, away=AWAY)
    assert not first.alert and first.held_back == AWAY
    # Re-armed mid-visit: still the visit the switch held back, still no alert (one per visit).
    for i, away in enumerate([AWAY, None], start=2):
        later = book.see(near(alice, 0.2, seed=i), T0 + timedelta(seconds=10 * i), away=away)
        assert not later.alert and later.held_back_by is HeldBackBy.DISARMED_VISIT
        assert later.reason == f"same visit as v1 (frame {i}), held back: {DISARMED_DETAIL}"
        assert "already alerted" not in later.reason
    back = book.see(near(alice, 0.2), T0 + timedelta(minutes=20))
    assert back.held_back_by is HeldBackBy.DISARMED_VISIT and "cooldown" in back.reason


def test_a_disarmed_visits_replays_repeat_their_answers_even_once_armed_again():
    book = Book()
    alice = person(1)
    book.see(alice, T0, frame="frame-1", alert_id="alert-1", away=AWAY)
    book.see(near(alice, 0.2), T0 + timedelta(seconds=5), frame="frame-2", alert_id="alert-2", away=AWAY)
    before = list(book.visits)
    first = book.see(alice, T0, frame="frame-1", alert_id="alert-1")
    assert not first.alert and first.held_back == AWAY
    later = book.see(near(alice, 0.2), T0 + timedelta(seconds=5), frame="frame-2", alert_id="alert-2")
    assert not later.alert and later.held_back_by is HeldBackBy.DISARMED_VISIT
    assert book.visits == before


def test_the_switch_holds_back_only_new_visits():
    book = Book()
    alice = person(1)
    assert book.see(alice, T0).alert
    later = book.see(near(alice, 0.2), T0 + timedelta(seconds=5), away=AWAY)
    assert later.held_back_by is HeldBackBy.OPEN_VISIT and later.reason.endswith("already alerted")


def test_old_visits_expire_by_themselves():
    book = Book()
    book.see(person(1), T0)
    book.see(person(2), T0 + timedelta(hours=5))
    assert len(book.visits) == 1


def test_the_book_round_trips_through_json():
    book = Book()
    book.see(person(1), T0, track=3)
    book.see(person(2), T0, away=AWAY)
    stored = json.loads(json.dumps(VisitBook(book.visits).to_dict()))
    assert VisitBook.from_dict(stored).visits == book.visits
    assert VisitBook.from_dict(stored).visits[1].held_back == AWAY


def test_a_book_written_before_visits_were_held_back_still_reads():
    book = Book()
    book.see(person(1), T0)
    stored = VisitBook(book.visits).to_dict()
    del stored["visits"][0]["held_back"]
    (visit,) = VisitBook.from_dict(stored).visits
    assert visit.held_back is None and visit == book.visits[0]


def test_a_track_that_jumped_to_another_person_does_not_hide_their_alert():
    # The edge tracker followed one passer-by out of view and the next one in: same track
    # id, a face farther from the first than two strangers usually are.
    book = Book()
    alice = person(1)
    book.see(alice, T0, track=7)
    bob = near(alice, 0.9)
    result = book.see(bob, T0 + timedelta(seconds=1), track=7)
    assert result.alert and result.reason == "new visit"


def vote(frame: int, name: str | None, *, track: int = 7, camera: str = "door", at=T0):
    return Vote(
        track_key(camera, track),
        f"f{frame}#0",
        at + timedelta(seconds=frame),
        name,
        0.4 if name else 0.7,
    )


def test_a_known_persons_bad_frame_on_their_track_is_not_a_stranger():
    book = VisitBook()
    for frame in range(3):  # Alice's first frames, named Alice
        book, _ = place(book, [], [vote(frame, "alice")], now=T0 + timedelta(seconds=frame), policy=POLICY)
    bad = Sighting("f3", "door", T0 + timedelta(seconds=3), person(1), 7, {"alice": 0.62})
    book, (result,) = place(
        book, [(bad, "v3", "a3")], [vote(3, None)], now=T0 + timedelta(seconds=3), policy=POLICY
    )
    assert result.visit is None and not result.alert
    assert "its edge track is alice (alice in 3 of 4" in result.reason
    assert result.held_back_by is HeldBackBy.KNOWN_TRACK
    assert book.visits == []


def test_a_stranger_on_a_known_persons_track_is_still_a_stranger():
    # The tracker jumped from Alice to someone else: the face is far from Alice's photos.
    book = VisitBook()
    for frame in range(3):
        book, _ = place(book, [], [vote(frame, "alice")], now=T0 + timedelta(seconds=frame), policy=POLICY)
    other = Sighting("f3", "door", T0 + timedelta(seconds=3), person(2), 7, {"alice": 0.9})
    _, (result,) = place(book, [(other, "v3", "a3")], [vote(3, None)], now=T0, policy=POLICY)
    assert result.alert and result.visit is not None


def test_one_lucky_frame_does_not_make_a_strangers_track_someone_known():
    book = VisitBook()
    book, _ = place(book, [], [vote(0, "alice")], now=T0, policy=POLICY)
    s = Sighting("f1", "door", T0 + timedelta(seconds=1), person(2), 7, {"alice": 0.58})
    _, (result,) = place(book, [(s, "v1", "a1")], [vote(1, None)], now=T0, policy=POLICY)
    assert result.alert  # one of two frames named alice is not most of them


def test_votes_are_kept_once_per_face_within_the_window_and_round_trip():
    votes = record_votes([], [vote(0, "alice"), vote(1, None)], T0 + timedelta(seconds=1), POLICY)
    again = record_votes(votes, [vote(1, None)], T0 + timedelta(seconds=1), POLICY)  # a replay
    assert again == votes
    later = record_votes(votes, [], T0 + POLICY.window + timedelta(seconds=1), POLICY)
    assert [v.face_key for v in later] == ["f1#0"]
    many = record_votes([], [vote(i, "alice") for i in range(40)], T0 + timedelta(seconds=40), POLICY)
    assert len(many) == MAX_TRACK_VOTES
    book = VisitBook([], votes)
    assert VisitBook.from_dict(json.loads(json.dumps(book.to_dict()))) == book
