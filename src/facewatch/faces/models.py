"""dlib and its model files, loaded lazily, one at a time, once per process.

`import face_recognition` loads all four models (~130 MB, ~1 s) and, when
face_recognition_models cannot be imported (it needs `pkg_resources`, gone from
setuptools 81+), calls `quit()`. We find the model files through the import system
without executing face_recognition_models at all, and load only what a call needs:
the 68-point landmark model and the encoder to encode faces (both from model_cache.py's
numpy copy of dlib's files when it is there: `shape_predictor`, `face_encoder`), and dlib's HOG detector to
confirm edge boxes on a small crop or search a frame that came without them (read from a
file in ~1 ms, `HOG_FILE`). The encoder's weights are read from dlib's file into
numpy (`facenet.py`), not loaded into dlib."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from facewatch.exceptions import ModelsUnavailable
from facewatch.faces import landmarks, model_cache
from facewatch.faces.facenet import Conv, FaceNet

log = logging.getLogger(__name__)

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
"""The landmarks that align a face for the encoder. face_recognition's default is its 5-point
model (9 MB, its `model="small"`); the 68-point one (100 MB, `model="large"`) places the
chip better: on news photos it names 0.4–0.9 points more of 50 known people at the same
rate of strangers accepted (bench/RESULTS.md); dlib takes 0.5 s to read it, the model cache
~7 ms (`shape_predictor`)."""

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


LANDMARKS_KIND = "shape_predictor_68"
ENCODER_KIND = "face_resnet_v1"  # its entry holds 29 convolutions (facenet.BLOCKS)


@cache
def shape_predictor() -> Any:
    """The 68-point landmark model: dlib's own weights as numpy arrays from model_cache.py
    (~5 ms; built from the installed file on first use, ~3 s once), evaluated in numpy
    exactly as dlib does (landmarks.py). Where the cache can be neither read nor built,
    dlib reads its file (~0.5 s). Both give the same points and are called the same way."""
    arrays = _landmark_arrays()
    if arrays is not None:
        return landmarks.LandmarkModel(arrays)
    return _dlib().shape_predictor(str(model_path(SHAPE_68)))


def _parse_landmarks(raw: bytes) -> dict[str, Any]:
    return landmarks.parse(raw).as_dict()


def _landmark_arrays() -> Any:
    found = model_cache.arrays_for(model_path(SHAPE_68), LANDMARKS_KIND, _parse_landmarks, big=("leaves",))
    try:
        return None if found is None else landmarks.Arrays.from_dict(found)
    except (KeyError, ValueError) as exc:
        log.warning("landmark model cache unusable (%s): dlib reads %s", exc, SHAPE_68)
        return None


def _encoder_arrays(net: FaceNet) -> dict[str, Any]:
    convs = net.convs
    out = {"mean_rgb": net.mean_rgb, "projection": net.projection}
    out["geometry"] = np.array([(c.size, c.stride, c.padding) for c in convs], np.int64)
    for i, c in enumerate(convs):
        out[f"w{i}"], out[f"b{i}"] = c.weights, c.bias
    return out


_ENCODER_BIG = tuple(f"w{i}" for i in range(29))
"""The convolutions' weights, memory-mapped (np.load of a 22 MB .npz: 40 ms)."""


def _parse_encoder(raw: bytes) -> dict[str, Any]:
    return _encoder_arrays(FaceNet._parse(raw))


def _encoder_from_arrays(arrays: dict[str, Any]) -> FaceNet:
    convs = [
        Conv(arrays[f"w{i}"], arrays[f"b{i}"], int(size), int(stride), int(padding))
        for i, (size, stride, padding) in enumerate(arrays["geometry"].tolist())
    ]
    blocks = tuple(zip(convs[1::2], convs[2::2], strict=True))
    net = FaceNet(arrays["mean_rgb"], convs[0], blocks, arrays["projection"])
    net._check(len(convs))
    return net


@cache
def face_encoder() -> FaceNet:
    """dlib's encoder network in numpy (facenet.py), its weights from model_cache.py
    (~3 ms), else parsed from dlib's file (~60 ms): the same float32 arrays either way."""
    path = model_path(ENCODER)
    found = model_cache.arrays_for(path, ENCODER_KIND, _parse_encoder, big=_ENCODER_BIG)
    if found is not None:
        try:
            return _encoder_from_arrays(found)
        except (KeyError, ValueError) as exc:
            log.warning("encoder cache unusable (%s): reading %s", exc, ENCODER)
    return FaceNet.from_file(path)


def build_caches() -> list[Path]:
    """Build (or find) the model cache's entries for the installed model files."""
    cache = model_cache.cache_dir()
    return [
        model_cache.build(model_path(SHAPE_68), LANDMARKS_KIND, cache, _parse_landmarks, ("leaves",)),
        model_cache.build(model_path(ENCODER), ENCODER_KIND, cache, _parse_encoder, _ENCODER_BIG),
    ]


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


def main(argv: list[str]) -> int:
    """python -m facewatch.faces.models build [CACHE_DIR]: build every entry of the model
    cache (the landmark model and the encoder) from the installed model files; prints the
    folders."""
    if not argv or argv[0] != "build" or len(argv) > 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    if len(argv) == 2:
        os.environ["FACEWATCH_MODEL_CACHE"] = str(Path(argv[1]).resolve())
    for folder in build_caches():
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
