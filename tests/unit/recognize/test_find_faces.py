"""Where recognize looks (recognition.find_faces): every edge box is fitted by HOG where HOG
finds the face; a Haar box HOG does not find is not a face, a CNN's is judged in HOG's
geometry but never called a stranger; a frame without boxes is searched with the CNN."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import numpy as np
import pytest

from facewatch.config import Settings
from facewatch.faces.centerface import CenterFaceDetector
from facewatch.faces.detection import HogDetector, confirm_face
from facewatch.faces.gallery import Gallery
from facewatch.frames import Box, FrameMeta
from facewatch.images import decode_bgr
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.known import encode_known_photo
from facewatch.recognize.recognition import (
    KNOWN_ONLY,
    NOT_CALLED_STRANGER,
    as_hog_box,
    find_faces,
    judge_faces,
)
from facewatch.records import FaceState, FaceVerdict
from tests.conftest import TESTDATA

# dlib's models and the network run for real: seconds each, so outside `make unit`.
pytestmark = pytest.mark.slow

SETTINGS = Settings()


def photo(*parts: str) -> np.ndarray:
    return decode_bgr(TESTDATA.joinpath(*parts).read_bytes(), 40_000_000)


def meta_for(image: np.ndarray, boxes: tuple[Box, ...], detector: str) -> FrameMeta:
    height, width = image.shape[:2]
    return FrameMeta("h", "door", datetime.now(UTC), width, height, boxes, detector=detector)


@pytest.fixture(scope="module")
def obama3():
    image = photo("faces", "obama3.jpg")
    cnn = CenterFaceDetector()
    (box,) = cnn.detect_in(image, None, cnn.search_scale(image.shape[1]), 40)
    return image, box


def texture() -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.integers(0, 255, (480, 640, 1)) * np.ones((1, 1, 3))).astype(np.uint8)


def test_a_haar_box_is_checked_by_hog_and_refused_where_there_is_no_face() -> None:
    image, box = texture(), Box(200, 150, 120, 120)
    faces, source = find_faces(image, meta_for(image, (box,), "haar"), SETTINGS)
    assert source == "edge"
    assert [(f.verdict, f.state, f.reason) for f in faces] == [
        ("unsure", FaceState.NOT_A_FACE, "edge box not confirmed as a face")
    ]


def test_a_cnn_box_hog_does_not_find_is_judged_in_hogs_geometry_but_known_only() -> None:
    image, box = texture(), Box(200, 150, 120, 120)
    (face,) = find_faces(image, meta_for(image, (box,), "centerface"), SETTINGS)[0]
    assert (face.state, face.reason) == (FaceState.KNOWN_ONLY, KNOWN_ONLY)
    assert face.box == as_hog_box(box, 640, 480) != box


def test_a_cnn_box_hog_finds_takes_hogs_own_box(obama3) -> None:
    image, box = obama3
    (face,) = find_faces(image, meta_for(image, (box,), "centerface"), SETTINGS)[0]
    assert (face.state, face.reason) == (FaceState.PENDING, "pending")
    assert face.box == confirm_face(image, box)


def test_a_known_only_face_is_named_but_never_called_a_stranger(obama3) -> None:
    image, box = obama3
    faces = [
        FaceVerdict(
            box=as_hog_box(box, image.shape[1], image.shape[0]),
            verdict="unsure",
            state=FaceState.KNOWN_ONLY,
            reason=KNOWN_ONLY,
        )
    ]
    known, _ = judge_faces(image, faces, gallery(), MatchPolicy())
    assert (known[0].verdict, known[0].name) == ("known", "obama")
    nobody = Gallery(["biden"], gallery().encodings[gallery().names.index("biden")][None], ["k"], ["e"])
    (unsure,), _ = judge_faces(image, faces, nobody, MatchPolicy())
    assert (unsure.verdict, unsure.state, unsure.reason) == ("unsure", FaceState.JUDGED, NOT_CALLED_STRANGER)
    (stranger,), _ = judge_faces(
        image, [faces[0].model_copy(update={"state": FaceState.PENDING})], nobody, MatchPolicy()
    )
    assert stranger.verdict == "stranger"


def test_hogs_geometry_of_cnn_boxes_is_where_hog_finds_the_faces() -> None:
    cnn, raw, mapped = CenterFaceDetector(), [], []
    for path in sorted(TESTDATA.glob("*/*.jp*g")) + sorted(TESTDATA.glob("*/*/*.jp*g")):
        image = photo(str(path.relative_to(TESTDATA)))
        height, width = image.shape[:2]
        hogs = HogDetector(max_width=width).detect(image)
        for box in cnn.detect_in(image, None, cnn.search_scale(width), 40):
            hog = max(hogs, key=box.iou)
            raw.append(box.iou(hog))
            mapped.append(as_hog_box(box, width, height).iou(hog))
    assert len(mapped) >= 6
    assert np.median(mapped) > max(0.75, np.median(raw) + 0.05)


@cache
def gallery() -> Gallery:
    paths = sorted(TESTDATA.glob("known/*/*.jpg"))
    rows = [encode_known_photo(p.read_bytes(), 40_000_000) for p in paths]
    names = [p.parent.name for p in paths]
    return Gallery(names, np.array(rows, np.float32), names, ["-"] * len(names))


def test_a_known_face_from_a_cnn_box_is_still_known(obama3) -> None:
    image, box = obama3
    faces, _ = find_faces(image, meta_for(image, (box,), "centerface"), SETTINGS)
    (judged,), _ = judge_faces(image, faces, gallery(), MatchPolicy())
    assert (judged.verdict, judged.name) == ("known", "obama")


def test_a_frame_without_boxes_is_searched_with_the_cnn() -> None:
    image = photo("faces", "two_people.jpg")
    faces, source = find_faces(image, meta_for(image, (), ""), SETTINGS)
    hog = HogDetector(max_width=SETTINGS.detect_width).detect(image)
    assert source == "detected" and len(faces) == len(hog) == 2
    for face in faces:
        assert max(face.box.iou(h) for h in hog) > 0.5
