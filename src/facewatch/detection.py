"""Finding faces in a frame, cheaply. Every detector works on a frame downscaled to at most
`detect_width` pixels wide and returns boxes in full-frame coordinates."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import cv2
import numpy as np

from facewatch.config import Settings
from facewatch.exceptions import ModelsUnavailable
from facewatch.frames import Box
from facewatch.models import DLIB_LOCK, hog_detector

_CASCADE_LOCK = threading.Lock()


class FaceDetector(Protocol):
    name: str

    def detect(self, image_bgr: np.ndarray) -> list[Box]: ...


def downscale(image: np.ndarray, max_width: int) -> tuple[np.ndarray, float]:
    """The image at most max_width wide, and the factor that maps its coordinates back."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image, 1.0
    factor = max_width / width
    small = cv2.resize(image, (max_width, max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    return small, 1.0 / factor


def _to_gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _finish(boxes: list[Box], back: float, image: np.ndarray, min_face_px: int) -> list[Box]:
    height, width = image.shape[:2]
    mapped = (b.scaled(back).clipped(width, height) for b in boxes)
    return [b for b in mapped if min(b.w, b.h) >= min_face_px]


@dataclass
class HaarDetector:
    """OpenCV's frontal-face Haar cascade: the article's detector, on a downscaled frame."""

    max_width: int = 640
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face_px: int = 40
    name: str = "haar"

    @cached_property
    def _cascade(self) -> cv2.CascadeClassifier:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise ModelsUnavailable(
                f"OpenCV's Haar cascade could not be loaded from {path}: "
                "opencv-python-headless 4.x is required (5.x ships none)"
            )
        return cascade

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        small, back = downscale(image_bgr, self.max_width)
        gray = cv2.equalizeHist(_to_gray(small))
        min_px = max(12, int(self.min_face_px / back))
        with _CASCADE_LOCK:  # one CascadeClassifier is not safe to run in two threads at once
            found = self._cascade.detectMultiScale(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(min_px, min_px)
            )
        return _finish([Box(*map(int, f)) for f in found], back, image_bgr, self.min_face_px)


@dataclass
class HogDetector:
    """dlib's HOG detector: slower than Haar, far fewer false faces; what recognize uses when
    a frame arrives without boxes."""

    max_width: int = 640
    upsample: int = 1
    min_face_px: int = 40
    name: str = "hog"

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        small, back = downscale(image_bgr, self.max_width)
        with DLIB_LOCK:
            rects = hog_detector()(np.ascontiguousarray(small[:, :, ::-1]), self.upsample)
        boxes = [Box(r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1) for r in rects]
        return _finish(boxes, back, image_bgr, self.min_face_px)


@dataclass
class YuNetDetector:
    """OpenCV's YuNet CNN detector, when the operator supplies its ONNX model file."""

    model_path: str
    max_width: int = 640
    score_threshold: float = 0.8
    min_face_px: int = 40
    name: str = "yunet"

    @cached_property
    def _net(self) -> cv2.FaceDetectorYN:
        try:
            return cv2.FaceDetectorYN.create(self.model_path, "", (320, 320), self.score_threshold)
        except cv2.error as exc:
            raise ModelsUnavailable(f"YuNet model {self.model_path!r} could not be loaded: {exc}") from exc

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        small, back = downscale(image_bgr, self.max_width)
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self._net.detect(small)
        boxes = [] if faces is None else [Box(*(int(v) for v in f[:4])) for f in faces]
        return _finish(boxes, back, image_bgr, self.min_face_px)


def make_detector(settings: Settings, kind: str | None = None) -> FaceDetector:
    kind = kind or settings.detector
    if kind == "haar":
        return HaarDetector(
            max_width=settings.detect_width,
            scale_factor=settings.haar_scale_factor,
            min_neighbors=settings.haar_min_neighbors,
            min_face_px=settings.min_face_px,
        )
    if kind == "hog":
        return HogDetector(max_width=settings.detect_width, min_face_px=settings.min_face_px)
    if kind == "yunet":
        if not settings.yunet_model:
            raise ModelsUnavailable("detector 'yunet' needs FACEWATCH_YUNET_MODEL (an ONNX file path)")
        return YuNetDetector(
            settings.yunet_model, max_width=settings.detect_width, min_face_px=settings.min_face_px
        )
    raise ValueError(f"unknown detector {kind!r}")


def confirm_face(image_bgr: np.ndarray, box: Box, *, face_px: tuple[int, ...] = (110, 150)) -> Box | None:
    """Check an edge box with dlib's HOG detector on a small crop around it.

    The edge's Haar cascade is cheap but fires on textures; a false face judged by the
    encoder is a random vector, i.e. a "stranger". HOG on a crop scaled so the face is
    ~110 px (HOG's window is 80 px) costs a few ms instead of ~200 ms for the whole frame,
    and its box is the geometry the landmark model and the gallery were made with. HOG's
    response depends on scale, so a second, larger scale is tried before giving up.
    Returns the HOG box in full-frame coordinates, or None when no face is there."""
    for px in face_px:
        found = _confirm_at(image_bgr, box, px)
        if found is not None:
            return found
    return None


def _confirm_at(image_bgr: np.ndarray, box: Box, face_px: int) -> Box | None:
    height, width = image_bgr.shape[:2]
    pad = box.w * 0.5
    x0, y0 = int(max(0, box.x - pad)), int(max(0, box.y - pad))
    x1, y1 = int(min(width, box.x + box.w + pad)), int(min(height, box.y + box.h + pad))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    scale = face_px / max(box.w, 1)
    crop = cv2.resize(
        image_bgr[y0:y1, x0:x1],
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    with DLIB_LOCK:
        rects = hog_detector()(np.ascontiguousarray(crop[:, :, ::-1]), 0)
    best: Box | None = None
    for r in rects:
        found = Box(
            round(r.left() / scale + x0),
            round(r.top() / scale + y0),
            round((r.right() - r.left() + 1) / scale),
            round((r.bottom() - r.top() + 1) / scale),
        ).clipped(width, height)
        if found.iou(box) > 0.3 and (best is None or found.iou(box) > best.iou(box)):
            best = found
    return best
