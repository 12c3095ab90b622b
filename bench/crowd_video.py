"""A crowded-street test video for bench/edge.py, made from the repo's face photos.

    python bench/crowd_video.py OUT.mp4 [--height 1080] [--seconds 10] [--people 10]

No crowded street scene is in the shared data. This one is synthetic in its layout only:
people (head-and-shoulders cut from real photographs, testdata/) walk across a textured
background at different distances (faces 40 to 160 px at 1080p) and speeds, several in
view at once, entering and leaving, over a slowly flickering background with sensor noise.
It is a stress case for the edge agent (many moving regions, many tracks), not a claim
about real footage. Deterministic for a given seed."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = sorted(
    p
    for folder in ("known", "faces", "passers-by")
    for p in (ROOT / "testdata" / folder).rglob("*")
    if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
)


def head_and_shoulders(photo: Path) -> tuple[np.ndarray, int] | None:
    """A crop around the photo's largest face (1.6 face widths each side, more below), and
    the face width in the crop."""
    image = cv2.imread(str(photo))
    if image is None:
        return None
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), 1.1, 5, minSize=(40, 40))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    x0, y0 = max(0, int(x - 0.8 * w)), max(0, int(y - 0.6 * h))
    x1, y1 = min(image.shape[1], int(x + 1.8 * w)), min(image.shape[0], int(y + 2.2 * h))
    return image[y0:y1, x0:x1], int(w)


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Shop fronts and pavement: coloured blocks, blurred."""
    image = np.zeros((height, width, 3), np.uint8)
    for _ in range(60):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 20, width // 4)), int(rng.integers(height // 20, height // 3))
        image[y : y + h, x : x + w] = rng.integers(40, 220, size=3)
    return cv2.GaussianBlur(image, (0, 0), 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--people", type=int, default=10, help="people walking by over the clip")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    height, width = args.height, args.height * 16 // 9 // 2 * 2
    scale = height / 1080
    cutouts = [c for c in (head_and_shoulders(p) for p in PHOTOS) if c is not None]
    frames = round(args.seconds * args.fps)
    walkers = []
    for i in range(args.people):
        crop, face_w = cutouts[i % len(cutouts)]
        target = float(rng.uniform(40, 160)) * scale
        sprite = cv2.resize(crop, None, fx=target / face_w, fy=target / face_w, interpolation=cv2.INTER_AREA)
        speed = float(rng.uniform(0.6, 2.0)) * target  # face widths a second
        start = int(rng.integers(0, max(1, frames - args.fps * 3)))
        left_to_right = bool(rng.integers(0, 2))
        row = int(rng.uniform(0.1, 0.9) * (height - sprite.shape[0]))
        walkers.append((sprite, speed, start, left_to_right, row))
    base = background(width, height, rng)
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, (width, height))
    for n in range(frames):
        gain = 1.0 + 0.02 * np.sin(n / args.fps * 2 * np.pi / 7)  # clouds passing
        frame = np.clip(base.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        for sprite, speed, start, left_to_right, row in walkers:
            t = (n - start) / args.fps
            if t < 0:
                continue
            sh, sw = sprite.shape[:2]
            x = int(-sw + speed * t) if left_to_right else int(width - speed * t)
            y = row + int(4 * scale * np.sin(t * 9))  # the bob of a step
            x0, x1 = max(0, x), min(width, x + sw)
            y0, y1 = max(0, y), min(height, y + sh)
            if x1 > x0 and y1 > y0:
                frame[y0:y1, x0:x1] = sprite[y0 - y : y1 - y, x0 - x : x1 - x]
        noise = rng.normal(0, 2.0, size=frame.shape)
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()
    print(f"{args.out}: {width}x{height}, {frames} frames, {args.people} people")


if __name__ == "__main__":
    main()
