"""A face frame's metadata: what the edge saw, carried with the JPEG as S3 user metadata so
that one atomic PUT both stores the frame and triggers recognition with everything it needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from facewatch.exceptions import BadInput
from facewatch.layout import check_id

# S3 limits user metadata to 2 KB per object; a frame with more faces than this keeps the
# largest ones (a crowd is judged by its nearest faces, the rest are re-detected if needed).
MAX_BOXES = 24
EARLIEST_CAPTURE = datetime(2000, 1, 1, tzinfo=UTC)
"""No frame facewatch judges was taken before this: an earlier time is a broken clock or a
forged value (and dates near year 1 overflow date arithmetic)."""
_META_PREFIX = "fw-"


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in full-frame pixel coordinates."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def scaled(self, factor: float) -> Box:
        return Box(
            round(self.x * factor),
            round(self.y * factor),
            round(self.w * factor),
            round(self.h * factor),
        )

    def clipped(self, width: int, height: int) -> Box:
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        return Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True, slots=True)
class FrameMeta:
    household: str
    camera: str
    captured_at: datetime
    width: int
    height: int
    boxes: tuple[Box, ...] = ()
    track_ids: tuple[int, ...] = ()
    source: str = "agent"
    detector: str = ""
    """The detector that found the boxes (a `FaceDetector.name`); "" when not said."""
    extra: dict[str, str] = field(default_factory=dict)

    def to_s3_metadata(self) -> dict[str, str]:
        order = sorted(range(len(self.boxes)), key=lambda i: -self.boxes[i].area)[:MAX_BOXES]
        meta = {
            "household": self.household,
            "camera": self.camera,
            "captured-at": self.captured_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "size": f"{self.width}x{self.height}",
            "boxes": json.dumps([self.boxes[i].as_list() for i in order], separators=(",", ":")),
            "source": self.source,
        }
        if self.detector:
            meta["detector"] = self.detector
        if self.track_ids:
            meta["tracks"] = json.dumps([self.track_ids[i] for i in order], separators=(",", ":"))
        return {f"{_META_PREFIX}{k}": v for k, v in meta.items()}

    @classmethod
    def from_s3_metadata(cls, metadata: dict[str, str]) -> FrameMeta:
        """Inverse of to_s3_metadata. S3 servers lowercase metadata names; so do we."""
        meta = {
            k.lower().removeprefix(_META_PREFIX): v
            for k, v in metadata.items()
            if k.lower().startswith(_META_PREFIX)
        }
        try:
            width, height = (int(v) for v in meta["size"].split("x"))
            boxes = tuple(Box(*map(int, b)) for b in json.loads(meta.get("boxes", "[]")))
            tracks = tuple(int(t) for t in json.loads(meta.get("tracks", "[]")))
            captured = datetime.fromisoformat(meta["captured-at"])
            if width <= 0 or height <= 0 or any(b.w <= 0 or b.h <= 0 for b in boxes):
                raise ValueError(f"sizes must be positive: {meta['size']}, {meta.get('boxes')}")
            if not EARLIEST_CAPTURE.year <= captured.year <= 9998:
                raise ValueError(f"capture time {captured} is out of range")  # no camera took it
            return cls(
                household=check_id(meta["household"], "household"),
                camera=check_id(meta["camera"], "camera"),
                captured_at=captured if captured.tzinfo else captured.replace(tzinfo=UTC),
                width=width,
                height=height,
                boxes=boxes,
                track_ids=tracks if len(tracks) == len(boxes) else (),
                source=meta.get("source", "unknown"),
                detector=meta.get("detector", "")[:32],
            )
        except (KeyError, ValueError, TypeError, RecursionError, OverflowError) as exc:
            raise BadInput(f"frame metadata is missing or malformed: {exc}") from exc
