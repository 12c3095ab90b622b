"""A busy 1080p street for bench/edge.py and bench/detectors.py, with its own face labels.

    python bench/street_video.py OUT.mp4 [--labels OUT.json] [--seconds 10] [--people 32]

No street footage is in the shared data, and bench/crowd_video.py's crowd is a still
background with a dozen walkers: the motion gate opens only around them. This scene is
made so that it opens nearly everywhere, as on a real pavement filmed by a hand-held or
wind-shaken camera:

- the camera pans slowly (12 px/s) and shakes (a few pixels at 1.3 and 2.9 Hz), over a
  street of sharp-edged facades, windows and paving;
- vehicles pass behind the walkers, both ways, at 250-700 px/s;
- tree shadows sway over the pavement, and the light flickers with passing clouds;
- about `--people` walkers are in view at any time (25-40 with the default 32): head and
  shoulders cut from the repo's photographs (flipped and re-lit for variety), faces 40 to
  120 px wide, farther ones smaller and higher up, walking across at 0.3-2.5 face widths a
  second (a pavement seen along its length: most people walk towards or away from the
  camera), some growing or shrinking a little as they do, nearer ones in front.

The labels are the generator's own truth, not a detector's: each walker's face box (the
Haar box of the face on its source photo, found once when the cut-out is made, scaled and
moved with the walker), in the project's Haar-box convention. A face counts when it is wholly
in the frame and a walker drawn in front covers under a fifth of it; otherwise it is
ignored (neither found nor false). Deterministic for a given seed."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
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
PAN_PX_S = 12.0
SHAKE = ((3.0, 1.3), (2.0, 2.9))
"""(amplitude px, frequency Hz) of the camera's shake, in x and y."""


@dataclass(frozen=True)
class Cutout:
    image: np.ndarray
    face: tuple[float, float, float, float]
    """The face's Haar box in the cut-out: x, y, w, h."""


@dataclass(frozen=True)
class Walker:
    cut: int
    face_px: float
    grow: float
    """Relative change of size per second (towards the camera > 0)."""
    x0: float
    speed: float
    """World px per second, signed."""
    row: float
    """World y of the face's centre at its starting size."""
    phase: float


def cutouts() -> list[Cutout]:
    """Head and shoulders around each photo's largest face (as bench/crowd_video.py cuts
    them), each also mirrored, and each of those darker and brighter."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    out = []
    for photo in PHOTOS:
        image = cv2.imread(str(photo))
        if image is None:
            continue
        faces = cascade.detectMultiScale(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), 1.1, 5, minSize=(40, 40))
        if len(faces) == 0:
            continue
        x, y, w, h = (int(v) for v in max(faces, key=lambda f: f[2] * f[3]))
        x0, y0 = max(0, int(x - 0.8 * w)), max(0, int(y - 0.6 * h))
        x1, y1 = min(image.shape[1], int(x + 1.8 * w)), min(image.shape[0], int(y + 2.2 * h))
        crop = image[y0:y1, x0:x1]
        fx, fy = x - x0, y - y0
        mirrored = crop[:, ::-1].copy()
        for base, face in ((crop, (fx, fy, w, h)), (mirrored, (crop.shape[1] - fx - w, fy, w, h))):
            for gain in (0.8, 1.0, 1.15):
                lit = np.clip(base.astype(np.float32) * gain, 0, 255).astype(np.uint8)
                out.append(Cutout(lit, tuple(float(v) for v in face)))  # type: ignore[arg-type]
    return out


def street(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Facades with windows above, paving below: sharp edges everywhere, so a camera that
    moves by a few pixels changes most of the frame."""
    image = np.zeros((height, width, 3), np.uint8)
    x = 0
    while x < width:  # facades
        w = int(rng.integers(width // 30, width // 10))
        colour = rng.integers(60, 200, size=3)
        image[: height // 2, x : x + w] = colour
        for wy in range(int(rng.integers(10, 40)), height // 2 - 40, int(rng.integers(60, 110))):
            for wx in range(x + 10, x + w - 30, int(rng.integers(40, 70))):
                image[wy : wy + 40, wx : wx + 22] = rng.integers(10, 90, size=3)
        x += w
    image[height // 2 :] = (120, 125, 130)  # the road and pavement
    for y in range(height // 2, height, 36):  # paving joints, in perspective
        image[y : y + 3] = (80, 82, 86)
    for x in range(0, width, 90):
        image[height // 2 + height // 5 :, x : x + 3] = (85, 88, 90)
    return cv2.GaussianBlur(image, (0, 0), 1.0)


def shadows(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A tree-shadow map for the pavement (gain out of 256: 150 in shade, 255 in sun)."""
    small = rng.random((height // 40 + 2, width // 40 + 2)).astype(np.float32)
    smooth = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return (150 + 105 * (smooth > 0.55)).astype(np.uint8)


def vehicle(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A car or van: a coloured body with dark windows and wheels."""
    body = np.full((height, width, 3), rng.integers(30, 230, size=3), np.uint8)
    body[height // 8 : height // 2, width // 10 : width - width // 10] = (40, 45, 50)
    for wx in range(width // 10 + 8, width - width // 10 - 40, max(50, width // 6)):
        body[height // 8 : height // 2, wx : wx + 6] = body[height - 1, 0]
    for cx in (width // 5, width - width // 5):
        cv2.circle(body, (cx, height - height // 10), height // 6, (20, 20, 20), -1)
    return body


def camera_offset(t: float) -> tuple[float, float]:
    """Where the frame's top-left corner is in the world at time t."""
    (ax, fx), (ay, fy) = SHAKE
    return PAN_PX_S * t + ax * math.sin(2 * math.pi * fx * t), ay * math.sin(2 * math.pi * fy * t + 1.0)


def make_walkers(
    people: float, width: int, height: int, seconds: float, cuts: list[Cutout], rng: np.random.Generator
) -> list[Walker]:
    """Walkers spread over a strip wide enough that about `people` are in view at any time."""
    walkers: list[Walker] = []
    expected = 0.0
    while expected < people:
        face = float(rng.uniform(40, 120))
        widths_s = float(rng.choice([rng.uniform(0.3, 1.0), rng.uniform(1.0, 2.5)], p=[0.6, 0.4]))
        speed = widths_s * face * (1 if rng.integers(0, 2) else -1)
        travel = abs(speed) * seconds + 3 * face
        x0 = float(rng.uniform(-travel, width + PAN_PX_S * seconds + travel))
        # farther faces (smaller) stand higher up the pavement
        row = height * (0.3 + 0.35 * (face - 40) / 80 + float(rng.uniform(-0.06, 0.06)))
        grow = float(rng.choice([0.0, rng.uniform(-0.02, 0.02)]))
        walkers.append(
            Walker(int(rng.integers(0, len(cuts))), face, grow, x0, speed, row, float(rng.uniform(0, 6.3)))
        )
        expected += (width + 3 * face) / (width + PAN_PX_S * seconds + 2 * travel)
    return sorted(walkers, key=lambda w: w.face_px)  # farther first: nearer ones in front


def paste(frame: np.ndarray, sprite: np.ndarray, x: int, y: int) -> tuple[int, int, int, int] | None:
    """Draw the sprite with its top-left at (x, y); its visible part, or None."""
    height, width = frame.shape[:2]
    sh, sw = sprite.shape[:2]
    x0, x1, y0, y1 = max(0, x), min(width, x + sw), max(0, y), min(height, y + sh)
    if x1 <= x0 or y1 <= y0:
        return None
    frame[y0:y1, x0:x1] = sprite[y0 - y : y1 - y, x0 - x : x1 - x]
    return x, y, sw, sh


def covered(face: tuple[float, float, float, float], sprite: tuple[int, int, int, int]) -> float:
    ix = max(0.0, min(face[0] + face[2], sprite[0] + sprite[2]) - max(face[0], sprite[0]))
    iy = max(0.0, min(face[1] + face[3], sprite[1] + sprite[3]) - max(face[1], sprite[1]))
    return ix * iy / (face[2] * face[3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--labels", type=Path, default=None, help="write the faces of every frame here")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--people", type=float, default=32, help="walkers in view at any time, about")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    width, height = 1920, 1080
    margin = 16  # the shake's reach
    world_w = width + int(PAN_PX_S * args.seconds) + 2 * margin
    world = street(world_w, height + 2 * margin, rng)
    shade = shadows(world_w, height + 2 * margin, rng)
    cuts = cutouts()
    walkers = make_walkers(args.people, width, height, args.seconds, cuts, rng)
    cars = [  # (image, time it enters, signed speed px/s, top row)
        (
            vehicle(int(rng.integers(380, 700)), int(rng.integers(200, 300)), rng),
            float(rng.uniform(-3, args.seconds)),
            float(rng.uniform(250, 700)) * (1 if i % 2 else -1),
            int(rng.uniform(0.3, 0.4) * height),
        )
        for i in range(int(args.seconds * 1.5))
    ]
    frames = round(args.seconds * args.fps)
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, (width, height))
    labels: dict[str, dict[str, list[list[float]]]] = {}
    in_view: list[int] = []
    for n in range(frames):
        t = n / args.fps
        ox, oy = camera_offset(t)
        ix, iy = round(ox) + margin, round(oy) + margin
        frame = world[iy : iy + height, ix : ix + width].copy()
        sway = round(25 * math.sin(2 * math.pi * 0.4 * t))  # the shadows' branches sway
        gain = shade[iy : iy + height, max(0, ix + sway) : max(0, ix + sway) + width]
        if gain.shape[1] == width:
            lower = slice(height // 2, height)
            frame[lower] = (frame[lower].astype(np.uint16) * gain[lower, :, None] >> 8).astype(np.uint8)
        for car, start, speed, row in cars:  # world x: in from the left or the right at `start`
            entry = -car.shape[1] if speed > 0 else world_w
            paste(frame, car, int(entry + speed * (t - start) - ox), row)
        placed: list[tuple[tuple[float, float, float, float], tuple[int, int, int, int]]] = []
        for walker in walkers:
            cut = cuts[walker.cut]
            size = walker.face_px * (1 + walker.grow * t)
            k = size / cut.face[2]
            sprite = cv2.resize(cut.image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            fx, fy, fw, fh = (v * k for v in cut.face)
            wx = walker.x0 + walker.speed * t - ox
            wy = walker.row - oy + 0.04 * size * math.sin(9 * t + walker.phase) - (fy + fh / 2)
            drawn = paste(frame, sprite, round(wx), round(wy))
            if drawn is not None:
                placed.append(((drawn[0] + fx, drawn[1] + fy, fw, fh), drawn))
        faces, ignores = [], []
        for i, (face, _) in enumerate(placed):
            x, y, w, h = face
            if x + w <= 0 or x >= width or y + h <= 0 or y >= height:
                continue
            inside = x >= 0 and y >= 0 and x + w <= width and y + h <= height
            hidden = max((covered(face, later) for _, later in placed[i + 1 :]), default=0.0)
            (faces if inside and hidden < 0.2 else ignores).append([round(v, 1) for v in face])
        in_view.append(len(faces) + len(ignores))
        labels[str(n)] = {"face": faces, "ignore": ignores}
        clouds = 1.0 + 0.03 * math.sin(2 * math.pi * t / 6)
        noise = rng.normal(0, 2.0, size=frame.shape).astype(np.float32)
        writer.write(np.clip(frame.astype(np.float32) * clouds + noise, 0, 255).astype(np.uint8))
    writer.release()
    if args.labels:
        args.labels.write_text(
            json.dumps(
                {
                    "video": args.out.name,
                    "frame_size": [width, height],
                    "boxes": "[x, y, w, h] Haar-box faces in frame pixels, from the generator's own truth",
                    "frames": labels,
                }
            )
        )
    print(
        f"{args.out}: {width}x{height}, {frames} frames, faces in view {min(in_view)}-{max(in_view)} "
        f"(mean {sum(in_view) / len(in_view):.1f}), {len(walkers)} walkers"
    )


if __name__ == "__main__":
    main()
