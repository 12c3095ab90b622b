"""detect's use case, for cameras too simple to run the agent: a frame a camera POSTed is
searched for faces as the agent searches its frames, and a frame with faces is stored
exactly as the agent stores it (which triggers recognition); one without is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import FaceDetector
from facewatch.frames import Box, FrameMeta
from facewatch.images import decode_bgr
from facewatch.store.storage import Storage


@dataclass(frozen=True, slots=True)
class PostedFrame:
    key: str | None
    """Where the frame was stored; None when it held no face."""
    boxes: tuple[Box, ...]
    """The faces found, largest first (the order the stored metadata lists them in)."""


def store_posted_frame(
    storage: Storage,
    detector: FaceDetector,
    body: bytes,
    *,
    household: str,
    camera: str,
    captured_at: datetime,
    max_pixels: int,
    jpeg_quality: int,
    tags: dict[str, str] | None = None,
) -> PostedFrame:
    """Decode (refusing what is not an image or is too large), search, and store."""
    image = decode_bgr(body, max_pixels)
    # The agent's own whole-frame search, at the scale its smallest face needs: `detect()`
    # shrinks to `max_width` first and misses faces the agent would have found (60 px at 1080p).
    found = detector.detect_in(image, None, detector.search_scale(image.shape[1]), detector.min_face_px)
    boxes = tuple(sorted(found, key=lambda b: -b.area))
    if not boxes:
        return PostedFrame(None, ())
    meta = FrameMeta(
        household=household,
        camera=camera,
        captured_at=captured_at,
        width=image.shape[1],
        height=image.shape[0],
        boxes=boxes,
        source="detect",
        detector=detector.name,
    )
    return PostedFrame(store_face_frame(storage, image, meta, jpeg_quality, tags), boxes)
