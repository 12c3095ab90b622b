"""recognize judges on the quick encoding and re-encodes only close calls
(recognition.judge_faces with decisions.settled): the distance a verdict reports shows
which encoding decided it."""

import numpy as np
import pytest

from facewatch.faces.detection import HogDetector
from facewatch.faces.encodings import describe_chips, describe_views, face_crops
from facewatch.faces.gallery import Gallery
from facewatch.images import decode_bgr, to_rgb
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.recognition import judge_faces
from facewatch.records import FaceState, FaceVerdict
from tests.conftest import TESTDATA

POLICY = MatchPolicy()


@pytest.fixture(scope="module")
def face():
    image = decode_bgr((TESTDATA / "known" / "obama" / "obama.jpg").read_bytes(), 40_000_000)
    box = HogDetector(max_width=4000).detect(image)[0]
    crops = face_crops(to_rgb(image), [box])
    quick = describe_chips(crops.chips)
    return image, box, quick[0], describe_views(crops, quick)[0]


def one_person_at(full: np.ndarray, distance: float) -> Gallery:
    """A gallery whose only photo lies `distance` from the face's full encoding."""
    step = np.random.default_rng(0).normal(size=128)
    row = full + step / np.linalg.norm(step) * distance
    return Gallery(["ref"], row[None].astype(np.float32), ["k"], ["e"])


def judged(image, box, gallery: Gallery) -> FaceVerdict:
    pending = [FaceVerdict(box=box, verdict="unsure", state=FaceState.PENDING)]
    return judge_faces(image, pending, gallery, POLICY)[0][0]


def test_a_close_call_is_decided_by_the_full_encoding(face):
    image, box, quick, full = face
    gallery = one_person_at(full, 0.59)  # T is 0.6 for one person
    row = gallery.encodings[0].astype(np.float64)
    verdict = judged(image, box, gallery)
    assert verdict.distance == pytest.approx(np.linalg.norm(full - row), abs=1e-5)
    assert abs(np.linalg.norm(quick - row) - verdict.distance) > 1e-4  # not the quick one's
    assert verdict.verdict == "known"


def test_a_clear_case_keeps_the_quick_encoding(face):
    image, box, quick, full = face
    gallery = one_person_at(full, 0.95)
    row = gallery.encodings[0].astype(np.float64)
    verdict = judged(image, box, gallery)
    assert verdict.distance == pytest.approx(np.linalg.norm(quick - row), abs=1e-5)
    assert verdict.verdict == "stranger"
