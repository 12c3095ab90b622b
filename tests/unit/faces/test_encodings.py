"""Our encoder against the real face_recognition library, and the gallery format."""

import numpy as np
import pytest

from facewatch.exceptions import StorageError
from facewatch.faces.detection import HaarDetector, HogDetector, confirm_face
from facewatch.faces.encodings import (
    QUICK_DISTANCE_ERROR,
    VIEW_SHIFT_PX,
    describe_chips,
    describe_views,
    encode_faces,
    face_crops,
)
from facewatch.faces.gallery import GALLERY_FORMAT, Gallery
from facewatch.images import decode_bgr, to_rgb
from tests.conftest import TESTDATA

# dlib's models and the network run for real: seconds each, so outside `make unit`.
pytestmark = pytest.mark.slow

OBAMA = TESTDATA / "known" / "obama" / "obama.jpg"


@pytest.fixture(scope="module")
def obama():
    return decode_bgr(OBAMA.read_bytes(), 40_000_000)


def test_the_chip_is_face_recognitions_and_the_quick_encoding_averages_it_with_its_mirror(obama):
    import face_recognition

    box = HogDetector(max_width=4000).detect(obama)[0]
    rgb = to_rgb(obama)
    chip = face_crops(rgb, [box]).chips[0]
    css = (box.y, box.x + box.w - 1, box.y + box.h - 1, box.x)
    as_is = face_recognition.face_encodings(rgb, [css], model="large")[0]
    dlib_net = face_recognition.api.face_encoder
    mirrored = np.array(dlib_net.compute_face_descriptor(np.ascontiguousarray(chip[:, ::-1])))
    assert np.abs(np.array(dlib_net.compute_face_descriptor(chip)) - as_is).max() < 1e-6
    quick = describe_chips(chip[None])[0]
    assert np.abs(quick - (as_is + mirrored) / 2).max() < 1e-6
    assert np.abs(quick - as_is).max() > 1e-3  # the mirror image is not a no-op


def test_the_full_encoding_averages_the_chip_shifted_up_and_down_and_mirrored(obama):
    import face_recognition

    box = HogDetector(max_width=4000).detect(obama)[0]
    crops = face_crops(to_rgb(obama), [box])
    s = VIEW_SHIFT_PX
    # The wide chip is the standard one with a border: its centre is the same face.
    centre = crops.wide[0, s : s + 150, s : s + 150].astype(int)
    assert np.abs(centre - crops.chips[0].astype(int)).mean() < 1.0
    dlib_net = face_recognition.api.face_encoder
    views = [crops.chips[0]] + [
        crops.wide[0, s + dy : s + dy + 150, s + dx : s + dx + 150] for dx, dy in ((0, -s), (0, s))
    ]
    views += [v[:, ::-1] for v in views]
    expected = np.mean([dlib_net.compute_face_descriptor(np.ascontiguousarray(v)) for v in views], axis=0)
    full = encode_faces(to_rgb(obama), [box])[0]
    assert np.abs(full - expected).max() < 1e-5
    assert np.abs(describe_views(crops)[0] - full).max() < 1e-9


def test_distances_from_the_quick_encoding_stay_within_their_stated_error():
    """encodings.QUICK_DISTANCE_ERROR bounds how far a distance from a face's quick encoding
    to a stored full one lies from its full encoding's; recognize trusts it to skip the full
    one. Every pair of faces in the test photos stays inside it."""
    quick, full = [], []
    for path in sorted(p for p in TESTDATA.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        image = decode_bgr(path.read_bytes(), 40_000_000)
        boxes = HogDetector(max_width=1600).detect(image)
        crops = face_crops(to_rgb(image), boxes)
        rows = describe_chips(crops.chips)
        quick += list(rows)
        full += list(describe_views(crops, rows))
    q, f = np.array(quick), np.array(full)
    assert len(q) >= 8
    from_quick = np.linalg.norm(q[:, None] - f[None], axis=2)
    from_full = np.linalg.norm(f[:, None] - f[None], axis=2)
    change = np.abs(from_quick - from_full)[~np.eye(len(q), dtype=bool)]
    assert 0.001 < change.max() < QUICK_DISTANCE_ERROR
    assert np.linalg.norm(q - f, axis=1).max() > change.max()  # the encodings move more


def test_faces_of_one_frame_are_encoded_as_each_alone(obama):
    from tests.conftest import clip_frame

    frame = to_rgb(clip_frame(90))
    boxes = [HogDetector(max_width=4000).detect(obama)[0], HogDetector().detect(clip_frame(90))[0]]
    # Two faces from different images, pasted side by side, so one frame holds both.
    a, b = rgb_crop(to_rgb(obama), boxes[0]), rgb_crop(frame, boxes[1])
    canvas = np.zeros((max(a.shape[0], b.shape[0]), a.shape[1] + b.shape[1], 3), np.uint8)
    canvas[: a.shape[0], : a.shape[1]], canvas[: b.shape[0], a.shape[1] :] = a, b
    found = HogDetector(max_width=4000, min_face_px=20).detect(canvas[:, :, ::-1])
    assert len(found) == 2
    together = encode_faces(canvas, found)
    for i, box in enumerate(found):
        assert np.abs(encode_faces(canvas, [box])[0] - together[i]).max() < 1e-6


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


def test_a_gallery_of_the_previous_format_is_read_as_stale_and_stays_so():
    rng = np.random.default_rng(0)
    old = Gallery(["a"], rng.normal(size=(1, 128)).astype(np.float32), ["k1"], ["e1"], format=1)
    back = Gallery.from_bytes(old.to_bytes())
    assert back.format == 1 and back.stale
    assert Gallery.from_bytes(back.to_bytes()).stale  # re-saving does not pass it off as new
    assert not Gallery.from_bytes(Gallery().to_bytes()).stale
    assert Gallery().format == GALLERY_FORMAT


def test_a_gallery_of_an_unknown_format_is_refused_clearly():
    with pytest.raises(StorageError, match="format 99"):
        Gallery.from_bytes(Gallery(format=99).to_bytes())


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


def rgb_crop(image: np.ndarray, box) -> np.ndarray:
    """The face with a margin of half its size on every side."""
    m = box.w // 2
    return image[max(box.y - m, 0) : box.y + box.h + m, max(box.x - m, 0) : box.x + box.w + m].copy()
