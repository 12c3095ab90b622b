"""A street scene for stranger-memory tests: passers-by (real photos of real people, see
testdata/passers-by/ATTRIBUTION.md) walking across a plain background, a few frames each,
sometimes two at once. Only the layout is synthetic; every face is a real photograph."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import HaarDetector, HogDetector
from facewatch.frames import FrameMeta
from facewatch.recognize.known import enroll
from facewatch.recognize.recognizer import Recognizer
from facewatch.recognize.triggers import StorageEvent
from facewatch.records import Alert, AlertOutcome, DeliveryStatus, FrameResult
from facewatch.store.storage import Storage
from tests.conftest import TESTDATA

PASSERS_BY = TESTDATA / "passers-by"
WIDTH, HEIGHT = 960, 540
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Walker:
    photo: str
    start: int
    """First frame the person is in."""
    frames: int = 8
    face_px: int = 110
    left_to_right: bool = True
    row: int = 0


FIRST_WALK = [
    Walker("alex-lacamoire.png", 0),
    Walker("rose-leslie.jpg", 6, row=1, left_to_right=False),
    Walker("kit-harington.jpeg", 10),
    Walker("biden2.jpg", 20, row=1),  # a known person passing by
]


def head(photo: Path, face_px: int) -> np.ndarray:
    """The person's head and shoulders, scaled so the face is about `face_px` wide."""
    image = cv2.imread(str(photo))
    box = max(HogDetector(max_width=image.shape[1], min_face_px=20).detect(image), key=lambda b: b.area)
    margin = int(box.w * 0.9)
    x0, y0 = max(0, box.x - margin), max(0, box.y - margin)
    crop = image[
        y0 : min(image.shape[0], box.y + box.h + 2 * margin), x0 : min(image.shape[1], box.x + box.w + margin)
    ]
    scale = face_px / box.w
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def background() -> np.ndarray:
    """A plain street: grey road, a lighter pavement, a darker wall."""
    frame = np.full((HEIGHT, WIDTH, 3), 120, np.uint8)
    frame[: HEIGHT // 3] = (90, 95, 100)
    frame[HEIGHT // 3 : 2 * HEIGHT // 3] = (150, 150, 145)
    return frame


def scene(walkers: Sequence[Walker]) -> Iterator[np.ndarray]:
    """The frames, in order; each walker crosses the frame during its frames."""
    heads = {w: head(PASSERS_BY / w.photo, w.face_px) for w in walkers}
    total = max(w.start + w.frames for w in walkers)
    for t in range(total):
        frame = background()
        for walker in walkers:
            step = t - walker.start
            if not 0 <= step < walker.frames:
                continue
            tile = heads[walker]
            h, w = tile.shape[:2]
            h, w = min(h, HEIGHT), min(w, WIDTH // 2)
            span = WIDTH - w
            progress = step / max(1, walker.frames - 1)
            x = int(span * (progress if walker.left_to_right else 1 - progress))
            y = min(HEIGHT - h, 20 + walker.row * (HEIGHT // 2))
            frame[y : y + h, x : x + w] = tile[:h, :w]
        yield frame


def write_video(frames: Sequence[np.ndarray], out: Path, fps: int = 5) -> Path:
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (WIDTH, HEIGHT))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return out


# --- judging a scene with recognize's real code --------------------------------------------


@dataclass
class Collected:
    """A notifier that keeps the alerts it is handed."""

    alerts: list[Alert] = field(default_factory=list)

    def send(self, alert: Alert) -> AlertOutcome:
        self.alerts.append(alert)
        return AlertOutcome(status=DeliveryStatus.SENT, kind=alert.kind)


def recognizer(storage: Storage, notifier: Collected) -> Recognizer:
    settings = Settings(bucket=storage.bucket, encodings_check_seconds=0)
    return Recognizer.from_settings(storage, settings, notifier)


def walk_by(
    storage: Storage,
    notifier: Collected,
    walkers: Sequence[Walker],
    start: datetime,
    household: str = "home",
    camera: str = "street",
) -> list[FrameResult]:
    """Upload each frame of the scene (boxes from the edge's Haar detector) and judge it."""
    results = []
    rec = recognizer(storage, notifier)
    for i, frame in enumerate(scene(walkers)):
        at = start + timedelta(seconds=i * 0.5)
        boxes = tuple(HaarDetector().detect(frame))
        if not boxes:
            continue
        key = store_face_frame(
            storage, frame, FrameMeta(household, camera, at, frame.shape[1], frame.shape[0], boxes)
        )
        outcome = rec.handle(StorageEvent("created", storage.bucket, key, storage.etag(key)))
        results.append(outcome.result)
    return results


def enroll_household(storage: Storage, household: str = "home") -> str:
    """The household ("home") knows Obama and Biden (not the passers-by)."""
    for name, photos in {
        "obama": sorted((TESTDATA / "known" / "obama").iterdir()),
        "biden": [TESTDATA / "known" / "biden" / "biden.jpg"],
    }.items():
        enroll(storage, household, name, [(p.name, p.read_bytes()) for p in photos], MAX_PIXELS)
    return household
