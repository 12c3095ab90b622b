"""A decision over an edge track's frames, through recognize's own code on a real S3
server: a known person's bad frame on their own track does not alert as a stranger (the
track's running encoding is theirs), but a different face on that track still does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.frames import FrameMeta
from facewatch.recognize.known import enroll
from facewatch.recognize.recognizer import Recognizer
from facewatch.recognize.triggers import StorageEvent
from tests.conftest import TESTDATA, clip_frame
from tests.integration.recognize_harness import MAX_PIXELS, T0, Clock, haar_boxes, image
from tests.street import Collected

pytestmark = pytest.mark.integration
ENROLLED = TESTDATA / "known" / "obama" / "obama.jpg"
SAME_PERSON_ELSEWHERE = TESTDATA / "faces" / "obama3.jpg"


def strict_recognizer(storage) -> tuple[Recognizer, Collected]:
    # A strict threshold makes Obama's other photo "a stranger" (it is ~0.3 from the enrolled
    # one): the bad frame a known person's own track can have.
    settings = Settings(bucket=storage.bucket, match_threshold=0.2, encodings_check_seconds=0)
    notifier = Collected()
    return Recognizer.from_settings(storage, settings, notifier, clock=Clock()), notifier


def upload_on_track(storage, path_or_frame, track: int, second: int) -> StorageEvent:
    frame = image(path_or_frame) if not hasattr(path_or_frame, "shape") else path_or_frame
    boxes = haar_boxes(frame)[:1]
    at = T0 + timedelta(seconds=second)
    meta = FrameMeta("home", "door", at, frame.shape[1], frame.shape[0], boxes, (track,))
    key = store_face_frame(storage, frame, meta)
    return StorageEvent("created", storage.bucket, key, storage.etag(key))


def test_a_known_persons_bad_frame_on_their_track_sends_no_alert(storage):
    enroll(storage, "home", "obama", [(ENROLLED.name, ENROLLED.read_bytes())], MAX_PIXELS)
    recognize, notifier = strict_recognizer(storage)
    for second in range(3):
        known = recognize.handle(upload_on_track(storage, ENROLLED, track=41, second=second))
        assert [f.verdict for f in known.result.faces] == ["known"]
    bad = recognize.handle(upload_on_track(storage, SAME_PERSON_ELSEWHERE, track=41, second=3))
    (face,) = bad.result.faces
    assert face.verdict == "stranger"  # the frame alone
    assert face.yaw_degrees is not None  # what, with its size and sharpness, weighs it in its track
    # The track's four faces together (its running encoding) are Obama.
    assert str(face.alert).startswith(
        "suppressed: its edge track is obama (its track's 4 faces together (their mean, spread"
    )
    assert face.visit_id is None and face.stranger_id is None
    assert notifier.alerts == []

    # Someone else on the same track (the tracker jumped): far from Obama, so an alert.
    other = recognize.handle(upload_on_track(storage, clip_frame(), track=41, second=4))
    assert [f.verdict for f in other.result.faces] == ["stranger"]
    assert len(notifier.alerts) == 1
