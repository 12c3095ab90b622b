"""Stranger memory through recognize's real code against a real S3 server: passers-by of a
street scene become one remembered stranger each, are recognised when they come back,
are forgotten after the memory period (crops too), and can be named in one step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from facewatch.alerts.mail import build_alert_email
from facewatch.faces.gallery import GALLERY_FORMAT
from facewatch.layout import stranger_crops_prefix, stranger_memory_prefix, strangers_key
from facewatch.recognize.naming import name_stranger
from facewatch.recognize.stranger_store import StrangerStore
from tests.conftest import TESTDATA, run_cli
from tests.street import FIRST_WALK, MAX_PIXELS, Collected, Walker, enroll_household, scene, walk_by

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
COMING_BACK = [
    Walker("rose-leslie.jpg", 0, face_px=95),
    Walker("alex-lacamoire.png", 4, row=1, face_px=125, left_to_right=False),
]


@pytest.fixture
def household(storage):
    return enroll_household(storage)


def faces(results, verdict):
    return [f for r in results for f in r.faces if f.verdict == verdict]


def test_passers_by_are_remembered_once_each_and_known_again_when_they_come_back(storage, household):
    notifier = Collected()
    first = walk_by(storage, notifier, FIRST_WALK, T0)
    store = StrangerStore(storage)
    memory = timedelta(days=30)
    strangers = store.strangers("home", now=T0 + timedelta(minutes=1), memory=memory)

    # One stranger per distinct unknown person, not one per frame; the known passer-by is known.
    assert len(faces(first, "stranger")) >= 10
    assert len(strangers) == 3
    assert {f.name for f in faces(first, "known")} == {"biden"}
    assert {f.stranger_id for f in faces(first, "stranger")} == {s.stranger_id for s in strangers}
    assert all(
        f.verdict_id and f.verdict_id.startswith("home/street/20261125/") for r in first for f in r.faces
    )
    assert sorted(s.visits for s in strangers) == [1, 1, 1]
    assert sum(s.sightings for s in strangers) == len(faces(first, "stranger"))
    # Each representative has its crop in the bucket, under the stranger's prefix.
    for s in strangers:
        stored = set(storage.list_keys(stranger_crops_prefix("home", s.stranger_id)))
        assert stored == set(s.crop_keys) and stored
    assert len(notifier.alerts) == 3
    assert all(a.stranger_visits == 1 and a.stranger_previous_seen is None for a in notifier.alerts)
    email = build_alert_email(
        notifier.alerts[0], storage.get(notifier.alerts[0].frame_key).body, mail_from="a@b", mail_to=["c@d"]
    )
    assert f"First seen ({notifier.alerts[0].stranger_id})" in email.get_body(("plain",)).get_content()

    # The next day two of them come back, bigger or smaller and walking the other way.
    notifier.alerts.clear()
    again = walk_by(storage, notifier, COMING_BACK, T0 + timedelta(days=1))
    after = store.strangers("home", now=T0 + timedelta(days=1, minutes=1), memory=memory)
    assert len(after) == 3
    back = {f.stranger_id for f in faces(again, "stranger")}
    assert len(back) == 2 and back <= {s.stranger_id for s in strangers}
    assert len(notifier.alerts) == 2
    for alert in notifier.alerts:
        assert alert.stranger_visits == 2
        assert T0 <= alert.stranger_previous_seen < T0 + timedelta(minutes=1)
        text = build_alert_email(alert, storage.get(alert.frame_key).body, mail_from="a@b", mail_to=["c@d"])
        assert "Seen 2 times, last on Wed 25 Nov 2026 09:0" in text.get_body(("plain",)).get_content()

    # Forty days later only the one seen then is remembered; the others' crops are gone.
    walk_by(storage, notifier, [Walker("kit-harington.jpeg", 0)], T0 + timedelta(days=40))
    left = store.strangers("home", now=T0 + timedelta(days=40, minutes=1), memory=memory)
    assert len(left) == 1 and left[0].visits == 1  # forgotten, then seen afresh
    for gone in back:
        assert not list(storage.list_keys(stranger_crops_prefix("home", gone)))


def test_naming_a_stranger_makes_all_their_faces_known_in_one_step(storage, household):
    notifier = Collected()
    walk_by(storage, notifier, [Walker("alex-lacamoire.png", 0, frames=10)], T0)
    (alex,) = StrangerStore(storage).strangers("home", now=T0, memory=timedelta(days=30))

    naming = name_stranger(storage, "home", alex.stranger_id, "Alex Lacamoire", MAX_PIXELS)
    assert naming.learned >= 1
    assert StrangerStore(storage).strangers("home", now=T0, memory=timedelta(days=30)) == []
    assert not list(storage.list_keys(stranger_crops_prefix("home", alex.stranger_id)))

    notifier.alerts.clear()
    later = walk_by(
        storage, notifier, [Walker("alex-lacamoire.png", 0, frames=4, face_px=100)], T0 + timedelta(hours=2)
    )
    assert faces(later, "stranger") == []
    assert {f.name for f in faces(later, "known")} == {"Alex Lacamoire"}
    assert notifier.alerts == []


def test_naming_an_unknown_stranger_is_a_clear_error_and_changes_nothing(storage, household):
    from facewatch.exceptions import BadInput

    with pytest.raises(BadInput, match="remembers no stranger"):
        name_stranger(storage, "home", "stranger-0000000000", "Somebody", MAX_PIXELS)


def test_strangers_and_name_stranger_commands(storage, household):
    now = datetime.now(UTC)
    walk_by(storage, Collected(), FIRST_WALK[:2], now - timedelta(hours=1))
    listed = run_cli(storage, "strangers", "--household", "home", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 2
    assert rows[0].keys() >= {"stranger_id", "first_seen", "last_seen", "visits", "sightings"}
    assert all(r["visits"] == 1 and r["sightings"] >= 3 for r in rows)

    named = run_cli(
        storage, "name-stranger", "--household", "home", "--stranger", rows[0]["stranger_id"], "--name", "Pat"
    )
    assert named.returncode == 0, named.stderr
    assert f"{rows[0]['stranger_id']} is now Pat" in named.stdout
    table = run_cli(storage, "strangers", "--household", "home")
    assert rows[1]["stranger_id"] in table.stdout and rows[0]["stranger_id"] not in table.stdout

    wrong = run_cli(
        storage, "name-stranger", "--household", "home", "--stranger", "stranger-nobody", "--name", "Pat"
    )
    assert wrong.returncode == 2 and "remembers no stranger" in wrong.stderr

    events = run_cli(storage, "events", "--household", "home", "--json")
    verdict_ids = [json.loads(line)["verdict_id"] for line in events.stdout.splitlines()]
    assert verdict_ids and all(v and "#" in v for v in verdict_ids)


@pytest.mark.slow
def test_the_demo_on_a_street_scene_remembers_each_passer_by_and_knows_them_next_run(tmp_path):
    """The whole pipeline (edge agent, S3 notifications, recognize and notify processes),
    twice, with the stranger memory kept between the runs."""
    from facewatch.local.demo import run_demo
    from tests.street import write_video

    street = [
        Walker("alex-lacamoire.png", 0, frames=30),
        Walker("rose-leslie.jpg", 20, frames=30, row=1, left_to_right=False),
        Walker("kit-harington.jpeg", 45, frames=30),
        Walker("biden2.jpg", 80, frames=30, row=1),
    ]
    back = [
        Walker("rose-leslie.jpg", 0, frames=30, face_px=100),
        Walker("alex-lacamoire.png", 35, frames=30, row=1, left_to_right=False, face_px=125),
    ]
    state = tmp_path / "state"
    first = run_demo(
        write_video(list(scene(street)), tmp_path / "street.mp4", fps=10),
        TESTDATA / "known",
        tmp_path / "outbox1",
        say=lambda _: None,
        state_dir=state,
    )
    ids = {s["stranger_id"] for s in first["strangers_remembered"]}
    assert len(ids) == 3  # one per distinct unknown passer-by, not one per frame
    assert first["strangers"] > 3 and first["known"] >= 1 and first["emails"] >= 1
    page = Path(first["report"]).read_text()
    assert all(i in page for i in ids)

    second = run_demo(
        write_video(list(scene(back)), tmp_path / "back.mp4", fps=10),
        TESTDATA / "known",
        tmp_path / "outbox2",
        say=lambda _: None,
        state_dir=state,
    )
    again = {s["stranger_id"]: s for s in second["strangers_remembered"]}
    assert set(again) == ids
    assert sorted(s["visits"] for s in again.values()) == [1, 2, 2]
    emails = [p.read_bytes() for p in (tmp_path / "outbox2").glob("*.eml")]
    assert emails and all(b"Seen 2 times, last on" in e for e in emails)


def test_the_alert_link_names_the_whole_stranger_at_once(storage, household):
    from facewatch.config import Settings
    from facewatch.recognize.known import load_gallery
    from facewatch.tokens import sign_face
    from facewatch.web import feedback

    notifier = Collected()
    walk_by(storage, notifier, [Walker("alex-lacamoire.png", 0, frames=10)], T0)
    (alex,) = StrangerStore(storage).strangers("home", now=T0, memory=timedelta(days=30))
    (alert,) = notifier.alerts
    settings = Settings(bucket=storage.bucket, link_secret="secret-for-tests-0123456789abcdef")
    token = sign_face(
        "secret-for-tests-0123456789abcdef",
        "home",
        alert.frame_key,
        alert.faces[0].box,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    reply = feedback.handle(
        settings, storage, method="POST", params={}, form={"token": token, "name": "Alex"}
    )
    assert reply.status == 200, reply.body
    assert "kept over 1 visit" in str(reply.body)
    gallery = load_gallery(storage, "home")[0]
    photos = [k for k, n in zip(gallery.photo_keys, gallery.names, strict=True) if n == "Alex"]
    # The stranger's kept crops and the alert's own face, not just the one face of the link.
    assert len(alex.crop_keys) + 1 >= len(photos) >= 2
    assert StrangerStore(storage).strangers("home", now=T0, memory=timedelta(days=30)) == []


def _sighting(n: int, at: datetime):
    import numpy as np

    from facewatch.recognize.strangers import NewSighting, StrangerSighting

    verdict = f"home/door/20261125/0900000000{n:02d}-abcdef12#0"
    encoding = np.random.default_rng(n).normal(size=128)
    seen = StrangerSighting(
        verdict,
        f"households/home/frames/door/20261125/0900000000{n:02d}-abcdef12.jpg",
        "door",
        at,
        (0, 0, 80, 80),
    )
    return NewSighting("home", seen, 0.5 * encoding / np.linalg.norm(encoding), f"visit-{n}", 80, 100.0)


def test_concurrent_invocations_lose_no_stranger_and_a_corrupt_memory_starts_afresh(storage):
    from concurrent.futures import ThreadPoolExecutor

    from facewatch.recognize.decisions import MatchPolicy

    store = StrangerStore(storage)
    policy = MatchPolicy(threshold=0.55)

    def record(n):
        return store.record(
            "home",
            [_sighting(n, T0)],
            now=T0,
            policy=policy,
            memory=timedelta(days=30),
            crop=lambda _: b"jpeg",
        )

    with ThreadPoolExecutor(8) as pool:
        recalls = [r for batch in pool.map(record, range(8)) for r in batch]
    remembered = store.strangers("home", now=T0, memory=timedelta(days=30))
    assert len(remembered) == 8 and {r.stranger.stranger_id for r in recalls} == {
        s.stranger_id for s in remembered
    }
    assert all(storage.exists(k) for s in remembered for k in s.crop_keys)

    for corrupt in (b"{not json", b"null", b"[]"):
        storage.put(store.index_key("home"), corrupt)
        (recall,) = record(9)
        assert recall.first_time
        assert [s.stranger_id for s in store.strangers("home", now=T0, memory=timedelta(days=30))] == [
            recall.stranger.stranger_id
        ]


def test_strangers_an_older_facewatch_remembered_are_encoded_again_from_their_crops(storage, household):
    walk_by(storage, Collected(), FIRST_WALK, T0)
    store = StrangerStore(storage)
    memory = timedelta(days=30)
    before = store.strangers("home", now=T0, memory=memory)
    # As an older facewatch stored them: encodings of another kind (noise here, comparable
    # with nothing) and no format. One stranger's crops have been lost as well.
    # ...in the one object it kept them in (moved into shards on the next change).
    book = store.load("home")[0].to_dict()
    for key in list(storage.list_keys(stranger_memory_prefix("home"))):
        storage.delete(key)
    noise = np.random.default_rng(0)
    for stranger in book["strangers"]:
        for rep in stranger["representatives"]:
            rep["encoding"] = noise.normal(size=128).tolist()
            del rep["format"]
    storage.put(strangers_key("home"), json.dumps(book).encode(), content_type="application/json")
    alex = min(before, key=lambda s: s.first_seen)  # the first to walk by
    for key in alex.crop_keys:
        storage.delete(key)

    notifier = Collected()
    again = walk_by(storage, notifier, COMING_BACK, T0 + timedelta(days=1))
    after = {s.stranger_id: s for s in store.strangers("home", now=T0 + timedelta(days=1), memory=memory)}
    # Rose Leslie's faces were encoded again from their crops: she is known again. Alex
    # Lacamoire's cannot be: he is remembered still, but matched as someone new.
    (rose_again,) = [a for a in notifier.alerts if a.stranger_visits == 2]
    (alex_anew,) = [a for a in notifier.alerts if a.stranger_visits == 1]
    assert rose_again.stranger_id in {s.stranger_id for s in before} - {alex.stranger_id}
    assert alex_anew.stranger_id not in {s.stranger_id for s in before}
    assert {f.stranger_id for f in faces(again, "stranger")} == {
        rose_again.stranger_id,
        alex_anew.stranger_id,
    }
    assert after[alex.stranger_id].representatives == ()
    for stranger in before:
        if stranger.stranger_id != alex.stranger_id:
            reps = after[stranger.stranger_id].representatives
            assert reps and all(r.format == GALLERY_FORMAT for r in reps)
