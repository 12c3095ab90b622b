"""The numpy encoder against dlib's own network, on the same face chips."""

from pathlib import Path

import numpy as np
import pytest

from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.detection import HogDetector
from facewatch.faces.facenet import FaceNet
from facewatch.faces.models import ENCODER, SHAPE_68, face_encoder, model_path, shape_predictor
from facewatch.images import decode_bgr, to_rgb
from tests.conftest import TESTDATA, clip_frame

# dlib's models and the network run for real: seconds each, so outside `make unit`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """Aligned chips of every face HOG finds in the repo's photos and a clip frame."""
    import dlib

    images = [
        to_rgb(decode_bgr(p.read_bytes(), 40_000_000))
        for p in sorted([*TESTDATA.glob("faces/*.jpg"), *TESTDATA.glob("known/*/*.jpg")])
    ]
    images.append(to_rgb(clip_frame(90)))
    out = []
    for image in images:
        for b in HogDetector(max_width=1600, min_face_px=20).detect(image[:, :, ::-1]):
            rect = dlib.rectangle(b.x, b.y, b.x + b.w - 1, b.y + b.h - 1)
            out.append(dlib.get_face_chip(image, shape_predictor()(image, rect), 150, 0.25))
    assert len(out) >= 6
    return np.stack(out)


def test_descriptors_equal_dlibs_on_real_faces(chips):
    import dlib

    theirs = dlib.face_recognition_model_v1(str(model_path(ENCODER)))
    expected = np.array([theirs.compute_face_descriptor(c) for c in chips])
    ours = face_encoder()(chips)
    assert ours.shape == (len(chips), 128)
    assert np.abs(ours - expected).max() < 1e-6


def test_a_batch_gives_each_face_what_it_gets_alone(chips):
    batch = face_encoder()(chips)
    for i, chip in enumerate(chips):
        assert np.abs(face_encoder()(chip[None])[0] - batch[i]).max() < 1e-6


def test_another_model_file_is_refused_clearly(tmp_path: Path):
    with pytest.raises(ModelsUnavailable, match="not dlib's face ResNet"):
        FaceNet.from_file(model_path(SHAPE_68))
    cut = tmp_path / "cut.dat"
    cut.write_bytes(model_path(ENCODER).read_bytes()[:5_000_000])
    with pytest.raises(ModelsUnavailable, match="not dlib's face ResNet"):
        FaceNet.from_file(cut)
