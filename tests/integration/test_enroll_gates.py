"""Enrollment's gates at two of its doors, on real photos made bad with cv2 (tests/
bad_photos.py): `facewatch enroll` (a real process) and the feedback link's page. Each
refusal is said, with what to take instead, and nothing of a refused photo is written. (The
console's People page: test_console_browser.py.) Real S3 (moto server over HTTP), the real
detector and encoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.frames import Box, FrameMeta
from facewatch.household.retention import household_marks, is_marked
from facewatch.layout import FrameKey
from facewatch.tokens import sign_face
from facewatch.web import feedback
from tests.bad_photos import GOOD, REFUSED
from tests.conftest import run_cli

pytestmark = pytest.mark.integration
SECRET = "link-secret-for-tests-0123456789abcdef"
SAYS = {
    "too-blurred": "take a sharper photo, in daylight",
    "too-small": "take a photo in which the face is at least 40px wide",
    "several-faces": "2 faces (",
    "no-face": "no face found: take a photo of one person",
}


def known(storage) -> list[str]:
    return sorted(storage.list_keys("households/home/known/"))


def test_the_cli_refuses_each_bad_photo_in_one_line_and_fails_only_when_all_were(storage, tmp_path):
    paths = []
    for kind, make in REFUSED.items():
        path = tmp_path / f"{kind}.jpg"
        path.write_bytes(make())
        paths.append(path)
    every_one_bad = run_cli(storage, "enroll", "--household", "home", "--name", "obama", *map(str, paths))
    assert every_one_bad.returncode == 1, every_one_bad.stderr
    lines = every_one_bad.stderr.splitlines()
    for kind, says in SAYS.items():
        [line] = [x for x in lines if x.startswith(f"{kind}.jpg: refused: ")]
        assert says in line, line
    assert "every photo of obama was refused; nothing was added" in every_one_bad.stderr
    assert known(storage) == []

    some_good = run_cli(storage, "enroll", "--household", "home", "--name", "obama", str(GOOD), str(paths[0]))
    assert some_good.returncode == 0, some_good.stderr
    assert "obama: 1 of 2 photo(s) with a usable face" in some_good.stdout
    assert f"{paths[0].name}: refused: " in some_good.stderr
    assert known(storage) == [f"households/home/known/obama/{GOOD.name}"]


def link(storage, image: np.ndarray) -> str:
    """A feedback link to the whole of `image`, stored as a camera frame."""
    height, width = image.shape[:2]
    box = Box(0, 0, width, height)
    meta = FrameMeta("home", "door", datetime.now(UTC), width, height, (box,))
    key = store_face_frame(storage, image, meta)
    return sign_face(SECRET, "home", key, box, now=datetime.now(UTC), ttl=timedelta(days=7))


def post(storage, token: str, name: str):
    settings = Settings(_env_file=None, bucket=storage.bucket, link_secret=SECRET)
    return feedback.handle(settings, storage, method="POST", params={}, form={"token": token, "name": name})


@pytest.mark.parametrize("kind", ["too-blurred", "too-small", "several-faces"])
def test_the_feedback_page_refuses_a_face_it_could_not_learn_from_and_the_link_still_works(storage, kind):
    image = cv2.imdecode(np.frombuffer(REFUSED[kind](), np.uint8), cv2.IMREAD_COLOR)
    token = link(storage, image)
    reply = post(storage, token, "Lin")
    assert reply.status == 422
    page = str(reply.body)
    assert f'data-kind="{kind}"' in page and SAYS[kind] in page and "this link still works" in page
    assert known(storage) == []
    assert list(storage.list_keys("households/home/links/")) == []  # usable again


def test_a_grey_camera_face_is_learned_and_the_thank_you_page_warns(storage):
    grey = cv2.cvtColor(cv2.cvtColor(cv2.imread(str(GOOD)), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    reply = post(storage, link(storage, grey), "Lin")
    assert reply.status == 200, reply.body
    assert 'data-kind="grayscale"' in str(reply.body) and "Lin is now known" in str(reply.body)
    assert len(known(storage)) == 1
    # The event a person named through the link outlives retention, as one named in the console.
    [frame] = [FrameKey.parse(k) for k in storage.list_keys("households/home/frames/")]
    marks = household_marks(
        storage, "home", now=datetime.now(UTC), stranger_memory=timedelta(days=30), strangers=lambda h: {}
    )
    assert is_marked(frame, marks)
