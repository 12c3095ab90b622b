"""Our encoder against the real face_recognition library, and the gallery format."""

import numpy as np
import pytest

from facewatch.detection import HaarDetector, HogDetector, confirm_face
from facewatch.encodings import Gallery, encode_faces
from facewatch.exceptions import StorageError
from facewatch.images import decode_bgr, to_rgb
from tests.conftest import TESTDATA

OBAMA = TESTDATA / "known" / "obama" / "obama.jpg"


@pytest.fixture(scope="module")
def obama():
    return decode_bgr(OBAMA.read_bytes(), 40_000_000)


def test_encodings_equal_face_recognitions_on_the_same_box(obama):
    import face_recognition

    box = HogDetector(max_width=4000).detect(obama)[0]
    ours = encode_faces(to_rgb(obama), [box])[0]
    css = (box.y, box.x + box.w - 1, box.y + box.h - 1, box.x)
    theirs = face_recognition.face_encodings(to_rgb(obama), [css])[0]
    assert np.abs(ours - theirs).max() < 1e-6


def test_edge_boxes_are_confirmed_and_false_faces_rejected(obama):
    boxes = HaarDetector().detect(obama)
    confirmed = [confirm_face(obama, b) for b in boxes]
    assert sum(c is not None for c in confirmed) == 1  # the cascade also fires on a texture
    real = next(c for c in confirmed if c is not None)
    hog = HogDetector(max_width=4000).detect(obama)[0]
    assert real.iou(hog) > 0.8


def test_gallery_round_trips_compactly():
    rng = np.random.default_rng(0)
    g = Gallery(["a", "b"], rng.normal(size=(2, 128)).astype(np.float32), ["k1", "k2"], ["e1", "e2"])
    data = g.to_bytes()
    assert len(data) < 2 * 128 * 4 + 2000
    back = Gallery.from_bytes(data)
    assert back.names == ["a", "b"]
    assert np.array_equal(back.encodings, g.encodings)
    assert back.photo_keys == ["k1", "k2"]


@pytest.mark.parametrize("data", [b"", b"not an npz", b"PK\x03\x04broken"])
def test_corrupt_gallery_is_a_storage_error(data):
    with pytest.raises(StorageError, match="corrupt"):
        Gallery.from_bytes(data)


def test_concurrent_requests_get_their_own_encodings(obama):
    """A function process serves requests in threads; dlib's encoder keeps per-call state,
    so without the model lock concurrent calls corrupted each other's results."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import clip_frame

    images = [to_rgb(obama), to_rgb(clip_frame(90))]
    boxes = [[HogDetector(max_width=4000).detect(obama)[0]], [HogDetector().detect(clip_frame(90))[0]]]
    expected = [encode_faces(images[i], boxes[i])[0] for i in range(2)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: (i % 2, encode_faces(images[i % 2], boxes[i % 2])[0]), range(24)))
    for which, encoding in results:
        assert np.abs(encoding - expected[which]).max() < 1e-9
