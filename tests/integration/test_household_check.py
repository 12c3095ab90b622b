"""`facewatch check` and the console's Check page on a small labelled household in a real
S3 bucket, whose every figure is worked out by hand here.

The household's photos are real (so what each covers is measured by the real code: obama.jpg
faces the camera, obama2.jpg is turned about 29°, a grey copy of biden.jpg is an IR photo),
but its known set is written with encodings chosen on the axes of the encoding space, so
each distance is a square root of a sum of squares:

    alice: a1 = 0 (obama.jpg), a2 = 0.3·e1 (obama2.jpg)
    bob:   b1 = 0.5·e2 (biden.jpg), b2 = 0.5·e2 + 0.2·e6 (biden-ir.jpg)
    carol: c1 = 0.9·e3 (rose-leslie.jpg)

Three people are too few to measure: the encoder's prior N(0.80, 0.09) sets the threshold at
its α/P = 0.02/3 quantile, 0.8 − 2.4748·0.09 = 0.5773. The closest pair is a1-b1 at 0.5,
within it. The strangers remembered: s1 = 0.3·e1 + 0.4·e4 (0.4 from a2), s2 = 0.9·e3 +
0.7·e5 (0.7 from c1)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from facewatch.faces.gallery import Gallery
from facewatch.layout import FrameKey, encodings_key, household_settings_key, known_photo_key
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import Representative, Stranger, StrangerBook
from facewatch.store.storage import Storage
from tests.conftest import TESTDATA, run_cli
from tests.console_site import Site, sign_in

pytestmark = pytest.mark.integration

THRESHOLD = 0.80 + 0.09 * -2.474_77
NEAR = 0.80 + 0.09 * -1.644_85  # the prior's 5 % quantile: an unnamed face nearer is its nearest person's


def axis(*parts: tuple[int, float]) -> np.ndarray:
    row = np.zeros(128, dtype=np.float32)
    for i, v in parts:
        row[i] = v
    return row


def grey(path) -> bytes:
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
    return cv2.imencode(".jpg", image)[1].tobytes()


PHOTOS = [  # person, photo name, bytes, encoding
    ("alice", "obama.jpg", (TESTDATA / "known/obama/obama.jpg").read_bytes(), axis()),
    ("alice", "obama2.jpg", (TESTDATA / "known/obama/obama2.jpg").read_bytes(), axis((1, 0.3))),
    ("bob", "biden.jpg", (TESTDATA / "known/biden/biden.jpg").read_bytes(), axis((2, 0.5))),
    ("bob", "biden-ir.jpg", grey(TESTDATA / "known/biden/biden.jpg"), axis((2, 0.5), (6, 0.2))),
    ("carol", "rose-leslie.jpg", (TESTDATA / "passers-by/rose-leslie.jpg").read_bytes(), axis((3, 0.9))),
]


def face(verdict: str, *, name=None, nearest=None, distance=None) -> dict:
    return {"box": [0, 0, 90, 90], "verdict": verdict, "name": name, "nearest": nearest, "distance": distance}


FACES = [  # hours ago, the face as recognize judged it
    (1, face("known", name="alice", nearest="alice", distance=0.3)),
    (30, face("known", name="alice", nearest="alice", distance=0.35)),
    (50, face("stranger", nearest="alice", distance=0.62)),  # a near-miss: alice's
    (51, face("stranger", nearest="alice", distance=0.70)),  # farther than NEAR: nobody's
    (2, face("unsure", nearest="bob", distance=0.58)),  # bob's, left unsure
    (3, face("unsure")),  # too small to compare: nobody's
    (4, face("known", name="bob", nearest="bob", distance=0.4)),
    (8 * 24, face("known", name="alice", nearest="alice", distance=0.3)),  # over a week ago
]


def seed(storage: Storage, household: str, now: datetime) -> None:
    for person, photo, body, _ in PHOTOS:
        storage.put(known_photo_key(household, person, photo), body, content_type="image/jpeg")
    keys = [known_photo_key(household, person, photo) for person, photo, _, _ in PHOTOS]
    gallery = Gallery(
        names=[p[0] for p in PHOTOS],
        encodings=np.array([p[3] for p in PHOTOS]),
        photo_keys=keys,
        photo_etags=[storage.etag(k) for k in keys],
    )
    storage.put(encodings_key(household), gallery.to_bytes(), content_type="application/x-npz")
    results = []
    for hours, judged in FACES:
        at = now - timedelta(hours=hours)
        key = FrameKey.new(household, "door", at)
        results.append(
            {"camera": "door", "frame_key": str(key), "captured_at": at.isoformat(), "faces": [judged]}
        )
    DayIndexStore(storage).record(household, results)

    def remember(book: StrangerBook) -> tuple[StrangerBook, None]:
        def stranger(sid: str, row: np.ndarray) -> Stranger:
            rep = Representative(
                tuple(float(v) for v in row), f"households/{household}/strangers/{sid}/c.jpg"
            )
            return Stranger(sid, now - timedelta(days=1), now - timedelta(hours=1), 3, 1, None, (rep,))

        s1 = stranger("stranger-s1", axis((1, 0.3), (4, 0.4)))
        s2 = stranger("stranger-s2", axis((3, 0.9), (5, 0.7)))
        return StrangerBook([*book.strangers, s1, s2]), None

    StrangerStore(storage).change(household, remember)


def test_check_json_is_the_households_figures_worked_out_by_hand(storage: Storage) -> None:
    seed(storage, "home", datetime.now(UTC))
    done = run_cli(storage, "check", "--household", "home", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert data["household"] == "home"
    assert data["threshold"] == pytest.approx(THRESHOLD, abs=1e-4)
    assert data["near"] == pytest.approx(NEAR, abs=1e-4)
    # Each of 3 people is within T of a stranger with α/P: some is with 1 - (1 - α/P)^3.
    assert data["stranger_named"] == {
        "chance": pytest.approx(1 - (1 - 0.02 / 3) ** 3, abs=1e-4),
        "people": 3,
        "impostor_mean": 0.8,
        "impostor_sd": 0.09,
        "measured": False,
        "false_accept_rate": 0.02,
    }
    assert data["closest_pair"] == {
        "people": ["alice", "bob"],
        "distance": 0.5,
        "photos": [
            known_photo_key("home", "alice", "obama.jpg"),
            known_photo_key("home", "bob", "biden.jpg"),
        ],
        "within_threshold": True,
    }
    alice, bob, carol = data["people"]
    assert [p["name"] for p in data["people"]] == ["alice", "bob", "carol"]
    assert [(p["view"], p["light"]) for p in alice["photos"]] == [("frontal", "day"), ("turned", "day")]
    assert [(p["view"], p["light"]) for p in bob["photos"]] == [("frontal", "day"), ("frontal", "ir")]
    assert alice["covers"] == {"frontal": 1, "turned": 1, "day": 2, "ir": 0} and alice["missing"] == ["ir"]
    assert bob["missing"] == ["turned"] and carol["missing"] == ["turned", "ir"]
    assert alice["faces"] == {"named": 2, "unsure": 0, "stranger": 1}
    assert bob["faces"] == {"named": 1, "unsure": 1, "stranger": 0}
    assert carol["faces"] == {"named": 0, "unsure": 0, "stranger": 0}
    assert data["faces_nobodys"] == 2  # the far stranger and the small face; the old one is not read
    assert alice["nearest_stranger"] == {
        "stranger_id": "stranger-s1",
        "distance": 0.4,
        "within_threshold": True,
    }
    # bob's nearest photo to s1 is b1: sqrt(0.3² + 0.5² + 0.4²) = 0.707
    assert bob["nearest_stranger"] == {
        "stranger_id": "stranger-s1",
        "distance": round(math.sqrt(0.09 + 0.25 + 0.16), 3),
        "within_threshold": False,
    }
    assert carol["nearest_stranger"] == {
        "stranger_id": "stranger-s2",
        "distance": 0.7,
        "within_threshold": False,
    }
    assert [p["questions_waiting"] for p in data["people"]] == [0, 0, 0]
    assert data["summaries_behind"] == []
    human = done.stderr
    assert "closest pair: alice and bob are nearer each other (0.500) than the threshold 0.577" in human
    assert "alice: 2 photo(s): 1 frontal, 1 turned, 2 day, 0 IR; no IR photo" in human
    assert "carol: 1 photo(s): 1 frontal, 0 turned, 1 day, 0 IR; no turned or IR photo" in human
    assert "  last 7 days: 2 named, 0 unsure, 1 taken for a stranger" in human


def test_check_refuses_an_unknown_household_and_one_that_knows_nobody(storage: Storage) -> None:
    storage.put_json(household_settings_key("empty"), {"channels": ["email"]})
    for household, words in [
        ("nobody-here", f"error: unknown household nobody-here: nothing of it is in bucket {storage.bucket}"),
        ("empty", "error: household empty knows nobody yet: enroll someone first"),
        ("Bad/Id", "error: invalid household 'Bad/Id'"),
    ]:
        done = run_cli(storage, "check", "--household", household, "--json")
        assert done.returncode == 2, (household, done.stdout, done.stderr)
        assert done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(words), done.stderr


def test_the_check_page_shows_the_same_figures_and_is_reached_from_people(site: Site, page) -> None:
    seed(site.storage, "checked", datetime.now(UTC))
    page.set_default_timeout(60_000)
    page.goto(site.link("checked", next_path="/people"))
    page.click("#signin button")
    page.wait_for_url(re.compile("/people$"))
    page.click("#check-link")
    page.wait_for_url(re.compile("/check$"))
    assert page.inner_text("#threshold-value") == "0.577"
    assert page.inner_text("#stranger-chance") == "2.0%"
    assert "alice and bob are nearer each other (0.500) than the threshold 0.577" in page.inner_text(
        "#closest-pair"
    )
    alice = page.locator(".person-check[data-name=alice]")
    assert [alice.locator(f"[data-tally={t}]").inner_text() for t in ("named", "unsure", "stranger")] == [
        "2",
        "0",
        "1",
    ]
    assert "1 frontal, 1 turned, 2 day, 0 IR" in alice.inner_text() and "no IR photo" in alice.inner_text()
    assert "stranger-s1 at 0.400 (within the threshold: is it alice?)" in alice.inner_text()
    bob = page.locator(".person-check[data-name=bob]")
    assert [bob.locator(f"[data-tally={t}]").inner_text() for t in ("named", "unsure", "stranger")] == [
        "1",
        "1",
        "0",
    ]
    assert "within 0.652 of them" in page.inner_text("#theirs")
    assert "2 face(s) of the week are nobody's" in page.inner_text("#theirs")


def test_the_check_page_of_a_household_that_knows_nobody_says_so_and_where_to_start(site: Site) -> None:
    http = sign_in(site, "nobody-yet")
    reply = http.get(f"{site.url}check")
    assert reply.status_code == 200, reply.text[:500]
    assert 'id="nobody-known"' in reply.text and 'href="/people"' in reply.text
