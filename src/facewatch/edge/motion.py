"""The motion gate: which parts of a frame changed since the detector last looked at them.

Each frame is shrunk to a small grey image and compared with a reference holding what the
detector last saw at each place (updated only where it looked, `commit`). So a face that
stands still never costs a detection, while one that drifts slowly is caught once its
accumulated change crosses the threshold: comparing with the previous frame instead would
miss both a slow approach and the start of a scene that is static between two frames.

The motion image's resolution follows from the smallest face to find: `cells_per_face`
motion pixels across a `min_face_px` face (0.1 of the frame for 40 px faces, 192x108 at
1080p), so a moving face is always a blob of several cells, and noise is averaged away by
the shrink itself. A cell changed when its grey level moved by more than `threshold`: far
above sensor and compression noise once averaged over a cell, far below the contrast of a
face against its background."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facewatch.frames import Box


@dataclass(frozen=True)
class MotionParams:
    min_face_px: int = 40
    cells_per_face: int = 4
    threshold: int = 20
    """Grey levels (of 255) a cell must change by."""
    min_cells: int = 4
    """Smaller changed blobs are noise: a quarter of the smallest face."""
    pad_faces: float = 1.0
    """A changed region is grown by this many smallest-face widths (and by 15% of its own
    size): a face whose mouth moved is searched whole."""
    full_frame: float = 0.5
    """When regions cover more than this fraction of the frame, search the frame whole."""


@dataclass(frozen=True, slots=True)
class Motion:
    regions: tuple[Box, ...]
    """Changed regions, padded and merged, in full-frame pixels."""
    changed_fraction: float
    full: bool
    """The whole frame should be searched (no reference yet, or most of it changed)."""

    @property
    def moving(self) -> bool:
        return self.full or bool(self.regions)


def motion_scale(frame_width: int, params: MotionParams) -> float:
    return min(1.0, params.cells_per_face / max(1, params.min_face_px)) if frame_width else 1.0


def small_gray(image_bgr: np.ndarray, scale: float) -> np.ndarray:
    """The frame shrunk by `scale`, grey and lightly blurred."""
    height, width = image_bgr.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Bilinear to twice the target first (cheap, reads few pixels), then area-average:
    # within 0.2 ms at 1080p where area averaging from full size takes ~1.6 ms.
    mid = (min(width, size[0] * 2), min(height, size[1] * 2))
    step = cv2.resize(image_bgr, mid, interpolation=cv2.INTER_LINEAR) if mid != (width, height) else image_bgr
    small = cv2.resize(step, size, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return cv2.GaussianBlur(gray, (3, 3), 0)


def changed_mask(reference: np.ndarray, current: np.ndarray, params: MotionParams) -> np.ndarray:
    """Cells that changed, keeping only blobs of at least `min_cells` (uint8 0/1)."""
    diff = cv2.absdiff(reference, current)
    mask = (diff > params.threshold).astype(np.uint8)
    if not mask.any():
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] < params.min_cells]
    if small:
        mask[np.isin(labels, small)] = 0
    return mask


def mask_boxes(mask: np.ndarray) -> list[Box]:
    """Bounding boxes of the changed blobs, in motion-image cells."""
    if not mask.any():
        return []
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [Box(*(int(v) for v in stats[i, :4])) for i in range(1, count)]


def grow(box: Box, pad: float, width: int, height: int) -> Box:
    px = round(pad + 0.15 * box.w)
    py = round(pad + 0.15 * box.h)
    return Box(box.x - px, box.y - py, box.w + 2 * px, box.h + 2 * py).clipped(width, height)


def merge(boxes: list[Box]) -> list[Box]:
    """Union of overlapping boxes, until none overlap (a detector run per blob would search
    their overlap twice)."""
    out = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h:
                    x0, y0 = min(a.x, b.x), min(a.y, b.y)
                    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
                    out[i] = Box(x0, y0, x1 - x0, y1 - y0)
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


def regions_from_mask(
    mask: np.ndarray, scale: float, width: int, height: int, params: MotionParams
) -> list[Box]:
    """The changed blobs as padded, merged regions of the full frame."""
    boxes = [b.scaled(1 / scale) for b in mask_boxes(mask)]
    return merge([grow(b, params.pad_faces * params.min_face_px, width, height) for b in boxes])


class MotionGate:
    """Keeps the reference image; `observe` each frame, `commit` where the detector looked."""

    def __init__(self, params: MotionParams = MotionParams()) -> None:
        self.params = params
        self._reference: np.ndarray | None = None
        self._current: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._scale = 1.0
        self._size = (0, 0)

    def observe(self, image_bgr: np.ndarray) -> Motion:
        height, width = image_bgr.shape[:2]
        if (width, height) != self._size:  # first frame, or the source changed resolution
            self._size, self._reference = (width, height), None
            self._scale = motion_scale(width, self.params)
        self._current = small_gray(image_bgr, self._scale)
        if self._reference is None:
            self._mask = np.ones_like(self._current)
            return Motion((Box(0, 0, width, height),), 1.0, True)
        self._mask = changed_mask(self._reference, self._current, self.params)
        fraction = float(self._mask.mean())
        regions = regions_from_mask(self._mask, self._scale, width, height, self.params)
        covered = sum(r.area for r in regions) / max(1, width * height)
        if covered > self.params.full_frame:
            return Motion((Box(0, 0, width, height),), fraction, True)
        return Motion(tuple(regions), fraction, False)

    def changed(self, box: Box) -> bool:
        """Whether anything changed inside this box (full-frame pixels) since it was looked at."""
        if self._mask is None:
            return True
        x0, y0 = int(box.x * self._scale), int(box.y * self._scale)
        x1 = int(np.ceil((box.x + box.w) * self._scale))
        y1 = int(np.ceil((box.y + box.h) * self._scale))
        return bool(self._mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)].any())

    def commit(self, regions: list[Box] | tuple[Box, ...] | None) -> None:
        """The detector has looked at these regions of the observed frame (None: all of it)."""
        if self._current is None:
            return
        if self._reference is None or regions is None:
            self._reference = self._current.copy()
            return
        for r in regions:
            x0, y0 = int(r.x * self._scale), int(r.y * self._scale)
            x1 = int(np.ceil((r.x + r.w) * self._scale))
            y1 = int(np.ceil((r.y + r.h) * self._scale))
            self._reference[y0:y1, x0:x1] = self._current[y0:y1, x0:x1]
