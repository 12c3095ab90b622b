"""recognize's own code (Recognizer.handle) on a real S3 server, with the inputs issue 4
names: known photos added and removed while it runs, frames with no face and with several
faces, and greyscale and 16-bit PNG frames."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import cv2
import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.edge.uploads import put_frame, store_face_frame
from facewatch.faces.detection import HaarDetector
from facewatch.frames import Box, FrameMeta
from facewatch.layout import FrameKey, known_photo_key
from facewatch.recognize.known import enroll
from facewatch.recognize.recognizer import Recognizer
from facewatch.recognize.triggers import StorageEvent
from tests.conftest import TESTDATA, clip_frame
from tests.integration.recognize_harness import MAX_PIXELS, T0, Clock, haar_boxes, image
from tests.street import Collected

pytestmark = pytest.mark.integration
OBAMA_PHOTOS = sorted((TESTDATA / "known" / "obama").iterdir())
OBAMA_VISITING = TESTDATA / "faces" / "obama3.jpg"  # not one of the enrolled photos
TWO_PEOPLE = TESTDATA / "faces" / "two_people.jpg"  # Obama and Biden


def recognizer(storage, check_seconds: float = 0.0, clock=None) -> tuple[Recognizer, Collected]:
    notifier = Collected()
    settings = Settings(bucket=storage.bucket, encodings_check_seconds=check_seconds)
    return Recognizer.from_settings(storage, settings, notifier, clock=clock or Clock()), notifier


def upload(storage, frame: np.ndarray, boxes: tuple[Box, ...], at: datetime = T0) -> StorageEvent:
    """The frame as the edge agent stores it (JPEG with its boxes), as its event."""
    meta = FrameMeta("home", "door", at, frame.shape[1], frame.shape[0], boxes)
    key = store_face_frame(storage, frame, meta)
    return StorageEvent("created", storage.bucket, key, storage.etag(key))


def upload_png(storage, png: bytes, meta: FrameMeta) -> StorageEvent:
    key = str(replace(FrameKey.new("home", "door", meta.captured_at), suffix=".png"))
    put_frame(storage, key, png, meta.to_s3_metadata())
    return StorageEvent("created", storage.bucket, key, storage.etag(key))


def verdicts(outcome) -> list[tuple[str, str | None]]:
    assert outcome.action == "judged", outcome
    return [(f.verdict, f.name) for f in outcome.result.faces]


def put_known_photo(storage, person: str, path) -> StorageEvent:
    key = known_photo_key("home", person, path.name)
    storage.put(key, path.read_bytes(), content_type="image/jpeg")
    return StorageEvent("created", storage.bucket, key, storage.etag(key))


# --- known photos change while recognize runs ----------------------------------------


def test_known_photos_added_and_removed_take_effect_through_recognize(storage):
    """The instance that handles the known-photo events rebuilds the encodings at once; any
    other instance notices the new object by its ETag after its check interval."""
    biden = TESTDATA / "known" / "biden" / "biden.jpg"
    enroll(storage, "home", "biden", [(biden.name, biden.read_bytes())], MAX_PIXELS)
    visitor = image(OBAMA_VISITING)
    boxes = haar_boxes(visitor)
    clock = Clock()
    handler, _ = recognizer(storage)
    other, _ = recognizer(storage, check_seconds=30, clock=clock)

    assert verdicts(other.handle(upload(storage, visitor, boxes))) == [("stranger", None)]

    for photo in OBAMA_PHOTOS:
        assert handler.handle(put_known_photo(storage, "obama", photo)).action == "gallery-rebuilt"
    at = T0 + timedelta(minutes=10)  # a later visit: the first one's visit is closed
    assert verdicts(handler.handle(upload(storage, visitor, boxes, at))) == [("known", "obama")]
    clock.now = 10.0  # within the other instance's interval: it has not looked yet
    assert verdicts(other.handle(upload(storage, visitor, boxes, at)))[0][0] == "stranger"
    clock.now = 31.0
    assert verdicts(other.handle(upload(storage, visitor, boxes, at))) == [("known", "obama")]

    for photo in OBAMA_PHOTOS:
        key = known_photo_key("home", "obama", photo.name)
        storage.delete(key)
        removed = handler.handle(StorageEvent("removed", storage.bucket, key, None))
        assert removed.action == "gallery-rebuilt"
    later = T0 + timedelta(hours=2)
    assert verdicts(handler.handle(upload(storage, visitor, boxes, later)))[0][0] == "stranger"
    clock.now = 62.0
    assert verdicts(other.handle(upload(storage, visitor, boxes, later)))[0][0] == "stranger"


# --- what is in the frame ------------------------------------------------------------


@pytest.fixture
def household(storage):
    enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in OBAMA_PHOTOS], MAX_PIXELS)
    return storage


def test_a_frame_with_no_face_is_recorded_and_alerts_nobody(household):
    storage = household
    rec, notifier = recognizer(storage)
    street = np.ascontiguousarray(clip_frame(0)[:, :200])  # a strip of the scene without anyone
    assert not HaarDetector().detect(street)
    meta = FrameMeta("home", "door", T0, street.shape[1], street.shape[0])
    _, png = cv2.imencode(".png", street)
    outcome = rec.handle(upload_png(storage, png.tobytes(), meta))
    assert verdicts(outcome) == []
    assert outcome.result.boxes_from == "detected"
    stored = storage.get_json(FrameKey.parse(outcome.key).result_key)
    assert stored["faces"] == [] and not stored["alert"]
    # an edge box on a texture (a cascade false positive) is checked, not judged
    box = Box(40, 60, 80, 80)
    textured = street.copy()
    textured[60:140, 40:120] = np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    outcome = rec.handle(upload(storage, textured, (box,)))
    assert [(f.verdict, f.reason) for f in outcome.result.faces] == [
        ("unsure", "edge box not confirmed as a face")
    ]
    assert notifier.alerts == []


@pytest.mark.parametrize("with_boxes", [True, False], ids=["edge-boxes", "no-boxes"])
def test_a_frame_with_several_faces_judges_each(household, with_boxes):
    storage = household
    rec, notifier = recognizer(storage)
    frame = image(TWO_PEOPLE)
    boxes = haar_boxes(frame) if with_boxes else ()
    outcome = rec.handle(upload(storage, frame, boxes))
    found = sorted(outcome.result.faces, key=lambda f: f.box.x)  # Obama is on the left
    judged = [(f.verdict, f.name) for f in found if f.verdict != "unsure"]
    assert judged == [("known", "obama"), ("stranger", None)]
    assert outcome.result.boxes_from == ("edge" if with_boxes else "detected")
    assert len(notifier.alerts) == 1  # for the stranger only
    assert [f.box for f in notifier.alerts[0].faces] == [found[1].box]
    assert notifier.alerts[0].faces_in_frame == len(outcome.result.faces)


def png_variants(frame: np.ndarray) -> dict[str, bytes]:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return {
        "grey 8-bit": cv2.imencode(".png", grey)[1].tobytes(),
        "colour 16-bit": cv2.imencode(".png", frame.astype(np.uint16) * 257)[1].tobytes(),
        "grey 16-bit": cv2.imencode(".png", grey.astype(np.uint16) * 257)[1].tobytes(),
    }


def test_grey_and_16_bit_pngs_are_judged_like_the_photo(household):
    storage = household
    rec, _ = recognizer(storage)
    photo = cv2.resize(image(OBAMA_VISITING), None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    meta = FrameMeta("home", "door", T0, photo.shape[1], photo.shape[0], haar_boxes(photo))

    def judged(png: bytes) -> list:
        faces = rec.handle(upload_png(storage, png, meta)).result.faces
        return [f for f in faces if f.verdict != "unsure"]  # the cascade also fired on a texture

    reference = judged(cv2.imencode(".png", photo)[1].tobytes())
    assert [(f.verdict, f.name) for f in reference] == [("known", "obama")]
    for name, png in png_variants(photo).items():
        faces = judged(png)
        assert [(f.verdict, f.name) for f in faces] == [("known", "obama")], name
        if name == "colour 16-bit":  # the same pixels once brought to 8 bits
            assert faces[0].distance == pytest.approx(reference[0].distance, abs=1e-6)


def test_a_frame_that_says_nowhere_when_it_was_taken_is_recorded_as_bad_not_retried(household):
    storage = household
    rec, notifier = recognizer(storage)
    # No facewatch metadata (another uploader) and a name whose date does not exist.
    key = "households/home/frames/door/20261399/250000000000-abcdef12.jpg"
    _, jpeg = cv2.imencode(".jpg", clip_frame(90))
    storage.put(key, jpeg.tobytes(), content_type="image/jpeg")
    outcome = rec.handle(StorageEvent("created", storage.bucket, key, storage.etag(key)))
    assert outcome.action == "bad-frame" and "when it was taken" in outcome.detail
    assert "when it was taken" in storage.get_json(FrameKey.parse(key).result_key)["error"]
    assert rec.handle(StorageEvent("created", storage.bucket, key, storage.etag(key))).action == "duplicate"
    assert notifier.alerts == []
