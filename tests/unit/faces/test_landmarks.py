"""The 68-point landmark model in numpy, from the model cache, against dlib's own
shape_predictor reading dlib's file: the same points on every test photo and on random
boxes, hence the same chips and the same encodings, bit for bit."""

from pathlib import Path

import numpy as np
import pytest

from facewatch.faces import encodings, landmarks, model_cache, models
from facewatch.faces.detection import HogDetector
from facewatch.frames import Box
from facewatch.images import decode_bgr, to_rgb
from tests.conftest import TESTDATA, clip_frame

# dlib's models and the network run for real: seconds each, so outside `make unit`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The cache entry built afresh from the installed model file (~3 s)."""
    cache = tmp_path_factory.mktemp("model-cache")
    return model_cache.build(
        models.model_path(models.SHAPE_68), models.LANDMARKS_KIND, cache, models._parse_landmarks, ("leaves",)
    )


@pytest.fixture(scope="module")
def ours(built) -> landmarks.LandmarkModel:
    return landmarks.LandmarkModel(landmarks.Arrays.from_dict(model_cache.read(built)))


@pytest.fixture(scope="module")
def theirs():
    import dlib

    return dlib.shape_predictor(str(models.model_path(models.SHAPE_68)))


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Every photo in testdata (known, passers-by, others) and two frames of the clip."""
    paths = sorted(p for p in TESTDATA.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    out = [to_rgb(decode_bgr(p.read_bytes(), 40_000_000)) for p in paths]
    out += [to_rgb(clip_frame(90)), to_rgb(clip_frame(240))]
    assert len(out) >= 11
    return out


@pytest.fixture(scope="module")
def faces(images) -> list[list[Box]]:
    """HOG's faces in each image."""
    found = [HogDetector(max_width=1600, min_face_px=20).detect(image[:, :, ::-1]) for image in images]
    assert sum(map(len, found)) >= 8
    return found


def _points(detection) -> np.ndarray:
    return np.array([(p.x, p.y) for p in detection.parts()])


def test_the_cache_holds_dlibs_model_as_it_is(built, ours):
    a = ours.arrays
    assert a.split_idx1.shape == (15, 500, 15) and a.leaves.shape == (15 * 500 * 16, 136)
    assert isinstance(a.leaves, np.ndarray) and not a.leaves.flags.writeable  # memory-mapped
    # the first tree's first split and the mean shape's first point, as dlib wrote them
    assert (a.split_idx1[0, 0, 0], a.split_idx2[0, 0, 0]) == (39, 132)
    assert a.split_thresh[0, 0, 0] == np.float32(34.54365539550781)
    assert a.initial_shape[:2].tolist() == [np.float32(0.029445791617035866), np.float32(0.32194992899894714)]


def test_points_equal_dlibs_on_faces_and_random_boxes(ours, theirs, images, faces):
    import dlib

    rng = np.random.default_rng(18)
    cases = 0
    for image, boxes in zip(images, faces, strict=True):
        height, width = image.shape[:2]
        rects = [dlib.rectangle(b.x, b.y, b.x + b.w - 1, b.y + b.h - 1) for b in boxes]
        for _ in range(20):  # anywhere, any size, partly outside the image, not square
            x, y = int(rng.integers(-60, width)), int(rng.integers(-60, height))
            size = int(rng.integers(15, 420))
            rects.append(dlib.rectangle(x, y, x + size + int(rng.integers(-8, 9)), y + size))
        grey = np.ascontiguousarray(image.mean(axis=2).astype(np.uint8))
        for rect in rects:
            for img in (image, grey):
                assert np.array_equal(_points(ours(img, rect)), _points(theirs(img, rect))), (rect, img.ndim)
                cases += 1
    assert cases >= 400


def test_chips_and_encodings_are_the_same_bits(ours, theirs, images, faces, monkeypatch):
    """The chips are the encoder's whole input, so equal chips are equal encodings; the
    full encoding (six views) is compared too, on a few faces (it costs 0.1 s a face)."""
    results = []
    for predictor in (ours, theirs):
        monkeypatch.setattr(encodings, "shape_predictor", lambda p=predictor: p)
        crops = [encodings.face_crops(image, boxes) for image, boxes in zip(images, faces, strict=True)]
        results.append([c for c in crops if len(c)])
    assert len(results[0]) >= 5
    for mine, dlibs in zip(*results, strict=True):
        assert np.array_equal(mine.chips, dlibs.chips) and np.array_equal(mine.wide, dlibs.wide)
    for mine, dlibs in list(zip(*results, strict=True))[:3]:
        first = mine.take([0]), dlibs.take([0])
        assert np.array_equal(encodings.describe_views(first[0]), encodings.describe_views(first[1]))


def test_a_call_like_dlibs(ours):
    import dlib

    image = to_rgb(decode_bgr((TESTDATA / "faces" / "obama3.jpg").read_bytes(), 40_000_000))
    rect = dlib.rectangle(500, 500, 600, 600)
    shape = ours(image, rect)
    assert isinstance(shape, dlib.full_object_detection) and shape.num_parts == 68 and shape.rect == rect
    with pytest.raises(ValueError):
        ours(image.astype(np.float32), rect)
    assert encodings.face_crops(image, [Box(500, 500, 101, 101)]).chips.shape == (1, 150, 150, 3)


def test_a_damaged_file_does_not_parse():
    raw = models.model_path(models.SHAPE_68).read_bytes()
    with pytest.raises(ValueError):
        landmarks.parse(b"\x01\x02" + raw[2:])  # version 2
    with pytest.raises(ValueError):
        landmarks.parse(raw[: len(raw) // 2])
