"""Finding faces in a frame, cheaply. Every detector returns boxes in full-frame coordinates.

`detect(image)` searches a whole frame downscaled to at most `max_width` pixels wide (what
the detect function and recognize use). The edge agent searches parts of frames instead
(`detect_in`): the regions where something moved, at the scale its smallest face needs, and
the neighbourhood of a face it already follows, at that face's own scale.

The scale a search needs follows from the smallest face to find: a detector has a smallest
window it can see a face in (Haar's cascade was trained on 24x24 faces, dlib's HOG on 80x80,
40 once upsampled), so a frame may be shrunk until a `min_face_px` face fills that window,
no further (`search_scale`). At 1080p a 40 px face survives a shrink to 0.6 (1152 wide), not
to 640 wide, where it would be 13 px and invisible to Haar."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.models import DLIB_LOCK, hog_detector
from facewatch.faces.scaling import downscale, resized, search_scale
from facewatch.frames import Box

_CASCADE_LOCK = threading.Lock()

NEAR_FACE_PX = 48
"""Scale a known face is searched at: twice Haar's window, well inside what every detector
sees reliably, and small enough that re-finding a 300 px face costs almost nothing."""
NEAR_MARGIN = 0.75
"""How far around a known face to look, in face widths, for where it moved since."""
NEAR_SIZE_RANGE = 1.6
"""A known face is looked for between its width divided and multiplied by this."""


class FaceDetector(Protocol):
    name: str
    min_face_px: int

    @property
    def window_px(self) -> int: ...

    def detect(self, image_bgr: np.ndarray) -> list[Box]: ...

    def detect_in(
        self, image_bgr: np.ndarray, region: Box | None, scale: float, min_px: int, max_px: int | None = None
    ) -> list[Box]: ...

    def search_scale(self, frame_width: int) -> float: ...


def near_region(box: Box, width: int, height: int, margin: float = NEAR_MARGIN) -> Box:
    """Where to look for a known face: its box grown by `margin` face widths each side."""
    pad_x, pad_y = round(box.w * margin), round(box.h * margin)
    return Box(box.x - pad_x, box.y - pad_y, box.w + 2 * pad_x, box.h + 2 * pad_y).clipped(width, height)


def near_scale(box: Box, window_px: int) -> float:
    """Shrink so a face of this box's size is NEAR_FACE_PX wide (never enlarge a frame)."""
    return min(1.0, max(NEAR_FACE_PX, window_px * NEAR_SIZE_RANGE) / max(1, box.w))


def detect_near(detector: FaceDetector, image_bgr: np.ndarray, box: Box) -> list[Box]:
    """Faces of about this box's size in its neighbourhood, searched at their own scale."""
    height, width = image_bgr.shape[:2]
    region = near_region(box, width, height)
    scale = near_scale(box, detector.window_px)
    low = max(detector.min_face_px, round(box.w / NEAR_SIZE_RANGE))
    return detector.detect_in(image_bgr, region, scale, low, round(box.w * NEAR_SIZE_RANGE))


def _to_gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _crop(image: np.ndarray, region: Box | None) -> tuple[np.ndarray, int, int]:
    if region is None:
        return image, 0, 0
    return image[region.y : region.y + region.h, region.x : region.x + region.w], region.x, region.y


def _finish(boxes: list[Box], back: float, image: np.ndarray, min_face_px: int) -> list[Box]:
    height, width = image.shape[:2]
    mapped = (b.scaled(back).clipped(width, height) for b in boxes)
    return [b for b in mapped if min(b.w, b.h) >= min_face_px]


def _place(
    boxes: list[Box], scale: float, dx: int, dy: int, image: np.ndarray, min_px: int, max_px: int | None
) -> list[Box]:
    """Boxes found in a scaled crop, in full-frame pixels, within [min_px, max_px]."""
    height, width = image.shape[:2]
    out = []
    for b in boxes:
        full = Box(round(b.x / scale) + dx, round(b.y / scale) + dy, round(b.w / scale), round(b.h / scale))
        full = full.clipped(width, height)
        if min(full.w, full.h) >= min_px and (max_px is None or max(full.w, full.h) <= max_px * 1.15):
            out.append(full)
    return out


@dataclass
class HaarDetector:
    """OpenCV's frontal-face Haar cascade: the article's detector, on a downscaled frame."""

    max_width: int = 640
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face_px: int = 40
    equalize: bool = False
    """Spread the frame's grey levels first. Off: the cascade already normalises each
    window's contrast, and a global equalisation driven by a bright background loses faces
    the article's plain cascade finds (a turning head on the bundled clip, for a second)."""
    name: str = "haar"
    window_px: int = 24

    @cached_property
    def _cascade(self) -> cv2.CascadeClassifier:
        # cv2.data.haarcascades, which OpenCV's type stubs do not declare
        path = str(Path(cv2.__file__).parent / "data" / "haarcascade_frontalface_default.xml")
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise ModelsUnavailable(
                f"OpenCV's Haar cascade could not be loaded from {path}: "
                "opencv-python-headless 4.x is required (5.x ships none)"
            )
        return cascade

    def search_scale(self, frame_width: int) -> float:
        return search_scale(frame_width, self.max_width, self.min_face_px, self.window_px)

    def _run(self, gray: np.ndarray, min_px: int, max_px: int | None) -> list[Box]:
        if self.equalize:
            gray = cv2.equalizeHist(gray)
        min_px = max(self.window_px, min_px)
        max_size = (max_px, max_px) if max_px and max_px >= min_px else (0, 0)
        if min(gray.shape[:2]) < min_px:
            return []
        with _CASCADE_LOCK:  # one CascadeClassifier is not safe to run in two threads at once
            found = self._cascade.detectMultiScale(
                gray,
                scaleFactor=self.scale_factor,
                minNeighbors=self.min_neighbors,
                minSize=(min_px, min_px),
                maxSize=max_size,
            )
        return [Box(*map(int, f)) for f in found]

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        small, back = downscale(image_bgr, self.max_width)
        found = self._run(_to_gray(small), max(12, int(self.min_face_px / back)), None)
        return _finish(found, back, image_bgr, self.min_face_px)

    def detect_in(
        self, image_bgr: np.ndarray, region: Box | None, scale: float, min_px: int, max_px: int | None = None
    ) -> list[Box]:
        """Faces between min_px and max_px (full-frame pixels) inside `region` (None: all of
        the frame), searched on the region shrunk by `scale`."""
        crop, dx, dy = _crop(image_bgr, region)
        if crop.size == 0:
            return []
        small = resized(_to_gray(crop), scale)
        found = self._run(small, round(min_px * scale), round(max_px * scale) if max_px else None)
        return _place(found, scale, dx, dy, image_bgr, max(min_px, self.min_face_px), max_px)


class _ColourSearch:
    """Whole-frame and region searches for detectors that look at a colour image through
    one `_run(image_bgr)` (HOG, YuNet); Haar searches grey images with size limits."""

    max_width: int
    min_face_px: int
    window_px: int

    def _run(self, small_bgr: np.ndarray) -> list[Box]:
        raise NotImplementedError

    def search_scale(self, frame_width: int) -> float:
        return search_scale(frame_width, self.max_width, self.min_face_px, self.window_px)

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        small, back = downscale(image_bgr, self.max_width)
        return _finish(self._run(small), back, image_bgr, self.min_face_px)

    def detect_in(
        self, image_bgr: np.ndarray, region: Box | None, scale: float, min_px: int, max_px: int | None = None
    ) -> list[Box]:
        crop, dx, dy = _crop(image_bgr, region)
        if crop.size == 0 or min(crop.shape[:2]) * scale < self.window_px:
            return []
        found = self._run(resized(crop, scale))
        return _place(found, scale, dx, dy, image_bgr, max(min_px, self.min_face_px), max_px)


@dataclass
class HogDetector(_ColourSearch):
    """dlib's HOG detector: slower than Haar, far fewer false faces; what recognize uses when
    a frame arrives without boxes."""

    max_width: int = 640
    upsample: int = 1
    min_face_px: int = 40
    name: str = "hog"
    window_px: int = field(init=False)

    def __post_init__(self) -> None:
        self.window_px = 80 >> self.upsample  # dlib's 80x80 window, halved by each upsampling

    def _run(self, small_bgr: np.ndarray) -> list[Box]:
        with DLIB_LOCK:
            rects = hog_detector()(np.ascontiguousarray(small_bgr[:, :, ::-1]), self.upsample)
        return [Box(r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1) for r in rects]


@dataclass
class YuNetDetector(_ColourSearch):
    """OpenCV's YuNet CNN detector, when the operator supplies its ONNX model file."""

    model_path: str
    max_width: int = 640
    score_threshold: float = 0.8
    min_face_px: int = 40
    name: str = "yunet"
    window_px: int = 20
    """YuNet's finest anchors (stride 8) find faces from about 10 px; 20 is where it is
    reliable."""

    @cached_property
    def _net(self) -> cv2.FaceDetectorYN:
        try:
            return cv2.FaceDetectorYN.create(self.model_path, "", (320, 320), self.score_threshold)
        except cv2.error as exc:
            raise ModelsUnavailable(f"YuNet model {self.model_path!r} could not be loaded: {exc}") from exc

    def _run(self, small_bgr: np.ndarray) -> list[Box]:
        with _CASCADE_LOCK:  # the network keeps its input size: one call at a time
            self._net.setInputSize((small_bgr.shape[1], small_bgr.shape[0]))
            _, faces = self._net.detect(np.ascontiguousarray(small_bgr))
        return [] if faces is None else [Box(*(int(v) for v in f[:4])) for f in faces]


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
