"""The model cache: built from the installed model files, found by a stat stamp, rebuilt
when the file changes, and never in the way: where it cannot be read or built, dlib's
files are read as before. The encoder from the cache is the same float32 arrays."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facewatch.faces import model_cache, models
from facewatch.faces.facenet import FaceNet
from tests.conftest import REPO, TESTDATA

# dlib's models and the network run for real: seconds each, so outside `make unit`.
pytestmark = pytest.mark.slow


def _parse_small(raw: bytes) -> dict[str, np.ndarray]:
    data = np.frombuffer(raw, np.uint8)
    return {"head": data[:4].copy(), "all": data.copy()}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "model.dat"
    path.write_bytes(bytes(range(64)))
    return path


def test_built_then_found_by_its_stamp_and_read_back(source: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    assert model_cache.find(source, "toy", cache) is None
    folder = model_cache.build(source, "toy", cache, _parse_small, big=("all",))
    assert model_cache.find(source, "toy", cache) == folder
    meta = json.loads((folder / "source.json").read_text())
    import hashlib

    assert meta["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert folder.name.startswith(f"toy-{meta['sha256'][:16]}")
    arrays = model_cache.read(folder)
    assert arrays["head"].tolist() == [0, 1, 2, 3]
    assert np.array_equal(arrays["all"], np.arange(64, dtype=np.uint8)) and not arrays["all"].flags.writeable


def test_a_changed_source_is_not_served_from_the_old_entry(source: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    old = model_cache.build(source, "toy", cache, _parse_small)
    source.write_bytes(bytes(range(1, 65)))
    os.utime(source, ns=(1, 1))
    assert model_cache.find(source, "toy", cache) is None
    new = model_cache.build(source, "toy", cache, _parse_small)
    assert new != old and model_cache.find(source, "toy", cache) == new
    assert model_cache.read(new)["head"].tolist() == [1, 2, 3, 4]
    # same bytes, new mtime (a reinstall): the entry is kept, only the index is rewritten
    os.utime(source, ns=(2, 2))
    assert model_cache.find(source, "toy", cache) is None
    assert model_cache.build(source, "toy", cache, _parse_small) == new


def test_arrays_for_builds_once_or_falls_back(source: Path, tmp_path: Path, monkeypatch):
    calls = []

    def parse(raw: bytes) -> dict[str, np.ndarray]:
        calls.append(1)
        return _parse_small(raw)

    monkeypatch.setenv("FACEWATCH_MODEL_CACHE", str(tmp_path / "cache"))
    assert model_cache.arrays_for(source, "toy", parse) is not None
    assert model_cache.arrays_for(source, "toy", parse) is not None
    assert len(calls) == 1
    monkeypatch.setenv("FACEWATCH_MODEL_CACHE", str(tmp_path / "other"))
    monkeypatch.setenv("FACEWATCH_MODEL_CACHE_BUILD", "0")
    assert model_cache.arrays_for(source, "toy", parse) is None and len(calls) == 1
    monkeypatch.delenv("FACEWATCH_MODEL_CACHE_BUILD")
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv("FACEWATCH_MODEL_CACHE", str(blocked / "cache"))
    assert model_cache.arrays_for(source, "toy", parse) is None  # cannot be built: None, no error


def test_a_damaged_entry_is_not_used(source: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FACEWATCH_MODEL_CACHE", str(tmp_path / "cache"))
    folder = model_cache.build(source, "toy", tmp_path / "cache", _parse_small)
    (folder / "small.npz").write_bytes(b"not a zip")
    assert model_cache.arrays_for(source, "toy", _parse_small) is None


def test_the_encoder_from_the_cache_is_dlibs_file_read_directly(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FACEWATCH_MODEL_CACHE", str(tmp_path))
    models.face_encoder.cache_clear()
    try:
        cached = models.face_encoder()
    finally:
        models.face_encoder.cache_clear()
    assert model_cache.find(models.model_path(models.ENCODER), models.ENCODER_KIND, tmp_path) is not None
    direct = FaceNet.from_file(models.model_path(models.ENCODER))
    assert np.array_equal(cached.mean_rgb, direct.mean_rgb)
    assert np.array_equal(cached.projection, direct.projection)
    for a, b in zip(cached.convs, direct.convs, strict=True):
        assert (a.size, a.stride, a.padding) == (b.size, b.stride, b.padding)
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
    chips = np.random.default_rng(3).integers(0, 256, (3, 150, 150, 3), dtype=np.uint8)
    assert np.array_equal(cached(chips), direct(chips))


COLD = """
import json, sys, time
from facewatch.faces import models
from facewatch.faces.encodings import encode_faces
from facewatch.frames import Box
from facewatch.images import decode_bgr, to_rgb
image = to_rgb(decode_bgr(open(sys.argv[1], "rb").read(), 40_000_000))
started = time.process_time()
predictor = models.shape_predictor()
models.face_encoder()
load_s = time.process_time() - started
row = encode_faces(image, [Box(*json.loads(sys.argv[2]))])[0]
print(json.dumps({"kind": type(predictor).__name__, "load_s": load_s, "row": row.tolist()}))
"""


def _cold(env: dict[str, str]) -> dict:
    photo = str(TESTDATA / "faces" / "obama3.jpg")
    done = subprocess.run(
        [sys.executable, "-c", COLD, photo, "[500, 500, 101, 101]"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        env={**os.environ, **env},
    )
    out: dict = json.loads(done.stdout.splitlines()[-1])
    return out


def test_a_new_process_maps_the_cache_and_encodes_as_with_dlibs_file(tmp_path: Path):
    cache = str(tmp_path / "cache")
    without = _cold({"FACEWATCH_MODEL_CACHE": cache, "FACEWATCH_MODEL_CACHE_BUILD": "0"})
    assert without["kind"] == "shape_predictor"  # dlib's own, from its file
    build_the_cache = [sys.executable, "-m", "facewatch.faces.models", "build", cache]
    subprocess.run(build_the_cache, check=True, cwd=REPO, capture_output=True)
    cached = _cold({"FACEWATCH_MODEL_CACHE": cache, "FACEWATCH_MODEL_CACHE_BUILD": "0"})
    assert cached["kind"] == "LandmarkModel"
    assert cached["row"] == without["row"]  # the same float64 encoding, bit for bit
    assert cached["load_s"] < without["load_s"] / 4, (cached["load_s"], without["load_s"])
