"""dlib and its model files, loaded lazily, one at a time, once per process.

`import face_recognition` loads all four models (~130 MB, ~1 s) and, when
face_recognition_models cannot be imported (it needs `pkg_resources`, gone from
setuptools 81+), calls `quit()`. We find the model files through the import system
without executing face_recognition_models at all, and load only what a call needs:
the 68-point landmark model and the encoder to encode faces, and dlib's HOG detector to
confirm edge boxes on a small crop or search a frame that came without them (read from a
file in ~1 ms, `HOG_FILE`). The encoder's weights are read from dlib's file into
numpy (`facenet.py`), not loaded into dlib."""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from pathlib import Path
from typing import Any

from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.facenet import FaceNet

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
"""The landmarks that align a face for the encoder. face_recognition's default is its 5-point
model (9 MB, its `model="small"`); the 68-point one (100 MB, `model="large"`) places the
chip better: on news photos it names 0.4–0.9 points more of 50 known people at the same
rate of strangers accepted (bench/RESULTS.md), for 0.3 s more at a cold start."""

DLIB_LOCK = threading.Lock()
"""dlib's models keep per-call state (its encoder's network held its layer outputs), so a
process serving requests in several threads must use them one call at a time; without
this, concurrent requests were seen to get each other's encodings. The numpy encoder
keeps none and runs outside the lock."""
ENCODER = "dlib_face_recognition_resnet_model_v1.dat"


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise ModelsUnavailable(
            f"dlib cannot be imported ({exc}); install the `dlib-bin` wheel (see constraints.txt)"
        ) from exc
    return dlib


@cache
def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelsUnavailable("the face_recognition_models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(name: str) -> Path:
    path = models_dir() / name
    if not path.is_file():
        raise ModelsUnavailable(f"model file {name} is missing from {path.parent}")
    return path


@cache
def shape_predictor() -> Any:
    return _dlib().shape_predictor(str(model_path(SHAPE_68)))


@cache
def face_encoder() -> FaceNet:
    return FaceNet.from_file(model_path(ENCODER))


HOG_FILE = Path(__file__).with_name("frontal_face_detector.svm")
"""dlib's frontal face detector as dlib itself saves it (`get_frontal_face_detector().save`).
dlib builds its built-in copy by decompressing a string compiled into the library: ~0.5 s,
most of a cold start with edge boxes; read from this file it takes ~1 ms. A test checks the
file is byte for byte what the installed dlib saves."""


@cache
def hog_detector() -> Any:
    dlib = _dlib()
    if HOG_FILE.is_file():
        return dlib.fhog_object_detector(str(HOG_FILE))
    return dlib.get_frontal_face_detector()  # an install without the package data: slower


def loaded() -> list[str]:
    """Which models this process has loaded so far (for tests and cold-start reports)."""
    names = {shape_predictor: "shape_predictor_68", face_encoder: "encoder", hog_detector: "hog"}
    return [name for fn, name in names.items() if fn.cache_info().currsize]
