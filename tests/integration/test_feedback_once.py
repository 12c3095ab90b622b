"""The "I know this person" link works once: a second use (or a forwarded email) learns
nothing and says so, and a use that learned nothing leaves the link usable. Real S3 (moto
server over HTTP), the real face detector and encoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import HaarDetector
from facewatch.frames import Box, FrameMeta
from facewatch.tokens import sign_face
from facewatch.web import feedback
from tests.conftest import clip_frame

pytestmark = pytest.mark.integration
SECRET = "link-secret-for-tests-0123456789abcdef"


def link(storage, box: Box | None = None) -> str:
    image = clip_frame()
    boxes = tuple(HaarDetector().detect(image))
    key = store_face_frame(
        storage, image, FrameMeta("home", "door", datetime.now(UTC), image.shape[1], image.shape[0], boxes)
    )
    return sign_face(SECRET, "home", key, box or boxes[0], now=datetime.now(UTC), ttl=timedelta(days=7))


def post(storage, token: str, name: str):
    settings = Settings(_env_file=None, bucket=storage.bucket, link_secret=SECRET)
    return feedback.handle(settings, storage, method="POST", params={}, form={"token": token, "name": name})


def get(storage, token: str):
    settings = Settings(_env_file=None, bucket=storage.bucket, link_secret=SECRET)
    return feedback.handle(settings, storage, method="GET", params={"token": token}, form={})


def known(storage) -> list[str]:
    return sorted(storage.list_keys("households/home/known/"))


def test_a_link_used_twice_enrolls_once_and_the_second_use_is_told_409(storage):
    token = link(storage)
    first = post(storage, token, "Lin")
    assert first.status == 200, first.body
    enrolled = known(storage)
    assert enrolled

    second = post(storage, token, "Mallory")
    assert second.status == 409
    assert "already used" in str(second.body) and "Lin" in str(second.body)
    assert known(storage) == enrolled
    assert get(storage, token).status == 409  # the form is not offered again either


def test_a_use_that_learned_nothing_leaves_the_link_usable(storage):
    token = link(storage, box=Box(0, 0, 40, 40))  # a corner of the frame: no face there
    first = post(storage, token, "Lin")
    assert first.status == 422 and 'data-kind="no-face"' in str(first.body)
    assert list(storage.list_keys("households/home/links/")) == []
    again = post(storage, token, "Lin")  # not 409: tried again
    assert again.status == 422 and "no face found" in str(again.body)
    assert known(storage) == []
