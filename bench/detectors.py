"""The edge's face detectors, measured against hand labels: speed at 1080p, faces found, false faces.

    python bench/detectors.py [--sets speed,clip,crowd,scales] [--detectors haar,centerface,yunet,hog]
                              [--widths 640,960] [--frames N] [--repeat N] [--crowd-video PATH]
                              [--street-video PATH --street-labels PATH] [--yunet-model PATH] [--json]

Why: bench/edge.py measures the agent against the article's loop, and its coverage counts
the baseline's own Haar boxes, so it cannot say what Haar misses or where it fires on
hands. This script asks the detectors themselves, each searching a whole 1920x1080 frame
shrunk to an input width (the report's sizes: Haar at 1152, the agent's 0.6, and at 640 and
960; CenterFace and YuNet at 320, 480, 640, 768 and 960), and maps boxes back to 1080p:

- speed: ms per frame (shrink, search, decode), median and 90th percentile over frames 0,
  150 and 240 of the clip at 1080p, after one warm-up pass at that size;
- clip: faces found and false faces on the 92 hand-labelled frames of
  testdata/video/short_hamilton_clip.mp4 scaled x3 (bicubic, as `bench/edge.py --height
  1080`); labels, and what counts as a match and a false face: bench/labels/README.md;
- crowd: the same on `bench/crowd_video.py OUT --seconds 10 --people 14` (1080p, every 5th
  frame), whose truth is replayed from the script's own random draws: each walker's face
  (its Haar box on the source photo, scaled), ignored where the frame cuts it or a later
  walker covers a fifth of it;
- street: the same on `bench/street_video.py OUT --labels LABELS` (1080p, 32 walkers in view,
  a shaking, panning camera; every 5th frame), whose labels the generator writes from its
  own truth (faces wholly in view and under a fifth covered; the others ignored);
- scales: the smallest reliable face on real video: 36 labelled clip frames shrunk or
  enlarged (x0.5, 0.75, 1, 1.5) and tiled over a 1080p frame (faces 13-130 px; faces a tile
  edge cuts are ignored). Reliable: recall >= 0.9 in that width bin and every larger one;
  widths in Haar-box pixels (label widths x 1.22, CenterFace's box to Haar's).

The detectors are the repo's own (`facewatch.faces.detection`, `facewatch.faces.centerface`)
at their shipped settings, searched through `detect_in` with no smallest-face filter (the
agent's `min_face_px` is policy, which bench/edge.py measures). YuNet runs only when an
ONNX file is given (FACEWATCH_YUNET_MODEL or --yunet-model); dlib's HOG only when asked for
(`--detectors haar,centerface,hog`). OpenCV runs on one thread. `--frames N` keeps N evenly spaced frames of
each set, to check the script quickly. Prints a table; with --json, then one JSON object per
detector and input size, one a line."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.config import Settings  # noqa: E402
from facewatch.faces.centerface import HAAR_WIDTH_PER_BOX, CenterFaceDetector, backend_available  # noqa: E402
from facewatch.faces.detection import FaceDetector, HaarDetector, HogDetector, YuNetDetector  # noqa: E402

CLIP = ROOT / "testdata" / "video" / "short_hamilton_clip.mp4"
LABELS = ROOT / "bench" / "labels" / "clip_faces.json"
CROWD_SCRIPT = ROOT / "bench" / "crowd_video.py"
CROWD_SECONDS, CROWD_PEOPLE, CROWD_FPS, CROWD_SEED, CROWD_HEIGHT = 10, 14, 25.0, 7, 1080
"""The crowd as bench/RESULTS.md makes it (`--seconds 10 --people 14`, the other defaults);
the truth replays these draws, so a --crowd-video must have been made the same way."""
CROWD_STEP = 5
STREET_SCRIPT = ROOT / "bench" / "street_video.py"
FULL_W, FULL_H = 1920, 1080
SPEED_FRAMES = (0, 150, 240)
"""Clip frames timed: the wide stage shot, the singer close up, the Obamas in the audience."""
WIDTHS = {
    "haar": (1152, 640, 960),
    "centerface": (320, 480, 640, 768, 960),
    "yunet": (320, 480, 640, 768, 960),
    "hog": (640, 960),
}
"""Input widths searched per detector (of 1920: 1152 is Haar's scale at 1080p in the agent)."""
SCALES = (0.5, 0.75, 1.0, 1.5)
SCALE_EVERY = 2
"""Every 2nd labelled frame with a face (36 of 71) is tiled at each scale."""
WIDTH_BINS = (0, 20, 24, 28, 32, 36, 40, 48, 56, 64, 80, 100, 120, 160)
SETS = ("speed", "clip", "crowd", "street", "scales")
NO_YUNET = "no model file (set FACEWATCH_YUNET_MODEL or pass --yunet-model)"


class Rect(NamedTuple):
    """A box in 1080p pixels (floats: labels and scaled truth are not whole pixels)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


Item = tuple[np.ndarray, list[Rect], list[Rect]]
"""A 1080p frame, its faces and its ignored regions."""


# --- matching ---------------------------------------------------------------------------------
def covers(d: Rect, face: Rect) -> bool:
    """A detection finds a face: centre within half the face's width of the face's centre
    (in x and in y) and width within 0.5-2x of the face's."""
    return (
        abs(d.cx - face.cx) < 0.5 * face.w and abs(d.cy - face.cy) < 0.5 * face.w and 0.5 < d.w / face.w < 2.0
    )


def near(d: Rect, region: Rect) -> bool:
    """A detection on (or duplicating) a labelled face or ignored region: its centre inside
    the region grown by a fifth, whatever its size."""
    return abs(d.cx - region.cx) < 0.6 * region.w and abs(d.cy - region.cy) < 0.6 * region.h


@dataclass
class Tally:
    """Faces found and false faces over a set of frames; recall by face width."""

    width_factor: float = 1.0
    """Truth width to Haar-box width (1.22 for the clip's CenterFace-shaped labels)."""
    frames: int = 0
    faces: int = 0
    found: int = 0
    false: int = 0
    by_width: dict[int, list[int]] = field(default_factory=dict)
    """Bin's lower edge: [found, faces]."""

    def add(self, dets: list[Rect], faces: list[Rect], ignores: list[Rect]) -> None:
        hit = [False] * len(faces)
        for d in dets:  # one detection per face, in the detector's order
            i = next((i for i, f in enumerate(faces) if not hit[i] and covers(d, f)), None)
            if i is not None:
                hit[i] = True
        self.frames += 1
        self.faces += len(faces)
        self.found += sum(hit)
        self.false += sum(not any(near(d, r) for r in faces + ignores) for d in dets)
        for face, ok in zip(faces, hit, strict=True):
            low = max(b for b in WIDTH_BINS if b <= face.w * self.width_factor)
            cell = self.by_width.setdefault(low, [0, 0])
            cell[0] += ok
            cell[1] += 1

    def summary(self, by_width: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "frames": self.frames,
            "faces": self.faces,
            "found": self.found,
            "recall": round(self.found / max(1, self.faces), 3),
            "false": self.false,
        }
        if by_width:
            recall = {k: round(v[0] / v[1], 3) for k, v in sorted(self.by_width.items())}
            out["recall_by_haar_px"] = recall
            out["faces_by_haar_px"] = {k: v[1] for k, v in sorted(self.by_width.items())}
            out["smallest_reliable_px"] = smallest_reliable(recall)
        return out


def smallest_reliable(recall: dict[int, float], level: float = 0.9) -> int | None:
    """The smallest width bin from which recall stays at `level` or more in every larger bin."""
    best = None
    for width in sorted(recall, reverse=True):
        if recall[width] < level:
            break
        best = width
    return best


# --- detectors --------------------------------------------------------------------------------
@dataclass
class Config:
    detector: FaceDetector
    width: int
    settings: str

    @property
    def key(self) -> str:
        return f"{self.detector.name}@{self.width}"

    @property
    def input(self) -> str:
        return f"{self.width}x{round(self.width * FULL_H / FULL_W)}"

    def search(self, frame: np.ndarray) -> list[Rect]:
        """The whole frame shrunk to this width (as the agent shrinks), in 1080p pixels."""
        boxes = self.detector.detect_in(frame, None, self.width / frame.shape[1], 0)
        return [Rect(b.x, b.y, b.w, b.h) for b in boxes]


def make_configs(names: Sequence[str], widths: set[int] | None, yunet_model: str | None) -> list[Config]:
    """The repo's detectors at their shipped settings, without a smallest-face filter."""
    out = []
    for name in names:
        detector: FaceDetector
        if name == "haar":
            haar = HaarDetector(min_face_px=1)
            detector, settings = haar, f"scaleFactor {haar.scale_factor}, minNeighbors {haar.min_neighbors}"
        elif name == "centerface":
            cf = CenterFaceDetector(min_face_px=1)
            detector, settings = cf, f"heatmap >= {cf.threshold}, NMS IoU {cf.nms_iou}, {backend_available()}"
        elif name == "yunet":
            if not yunet_model:
                print(f"yunet: skipped, {NO_YUNET}")
                continue
            yn = YuNetDetector(yunet_model, min_face_px=1)
            detector, settings = yn, f"score >= {yn.score_threshold}"
        elif name == "hog":
            hog = HogDetector(min_face_px=1)
            detector, settings = hog, f"upsample {hog.upsample}"
        else:
            raise SystemExit(f"unknown detector {name!r}")
        out += [Config(detector, w, settings) for w in WIDTHS[name] if widths is None or w in widths]
    return out


# --- test sets --------------------------------------------------------------------------------
def evenly(items: Sequence[Any], n: int | None) -> list[Any]:
    """n evenly spaced items (all of them without n)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[math.floor(i * len(items) / n)] for i in range(n)]


def to_1080p(frame: np.ndarray) -> np.ndarray:
    """A 640x360 clip frame as `bench/edge.py --height 1080` prepares it."""
    return cv2.resize(frame, (FULL_W, FULL_H), interpolation=cv2.INTER_CUBIC)


def clip_frames(indices: set[int]) -> dict[int, np.ndarray]:
    """The clip's frames at these indices, as decoded (640x360)."""
    capture, index = cv2.VideoCapture(str(CLIP)), 0
    out: dict[int, np.ndarray] = {}
    while len(out) < len(indices):
        ok, frame = capture.read()
        if not ok:
            break
        if index in indices:
            out[index] = frame
        index += 1
    capture.release()
    return out


def load_labels() -> dict[int, tuple[list[Rect], list[Rect]]]:
    """Per labelled clip frame: its faces and ignored regions (bench/labels/README.md)."""
    raw = json.loads(LABELS.read_text())
    static = raw["static_ignore"]
    out = {}
    for key, entry in raw["frames"].items():
        index = int(key)
        ignore = entry["ignore"]
        if static["first_frame"] <= index <= static["last_frame"]:
            ignore = ignore + static["boxes"]
        out[index] = ([Rect(*b) for b in entry["face"]], [Rect(*b) for b in ignore])
    return out


def clip_items(labels: dict[int, tuple[list[Rect], list[Rect]]], n: int | None) -> Iterator[Item]:
    chosen = evenly(sorted(labels), n)
    frames = clip_frames(set(chosen))
    for index in chosen:
        yield to_1080p(frames[index]), *labels[index]


def tiled(frame: np.ndarray, faces: list[Rect], ignores: list[Rect], s: float) -> Item:
    """The 640x360 frame scaled by s and repeated over 1920x1080, with its labels (at 3x the
    clip, so scaled by s/3); faces a tile's or the frame's edge cuts become ignored."""
    interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    small = cv2.resize(frame, None, fx=s, fy=s, interpolation=interpolation)
    th, tw = small.shape[:2]
    reps_y, reps_x = -(-FULL_H // th), -(-FULL_W // tw)
    canvas = np.tile(small, (reps_y, reps_x, 1))[:FULL_H, :FULL_W].copy()
    k = s / 3
    out_f: list[Rect] = []
    out_i: list[Rect] = []
    for r in range(reps_y):
        for c in range(reps_x):
            for boxes, is_face in ((faces, True), (ignores, False)):
                for b in boxes:
                    d = Rect(b.x * k + c * tw, b.y * k + r * th, b.w * k, b.h * k)
                    inside = d.x >= 0 and d.y >= 0 and d.x + d.w <= FULL_W and d.y + d.h <= FULL_H
                    (out_f if is_face and inside else out_i).append(d)
    return canvas, out_f, out_i


def scale_items(labels: dict[int, tuple[list[Rect], list[Rect]]], n: int | None) -> Iterator[Item]:
    chosen = [i for i in sorted(labels) if labels[i][0]][::SCALE_EVERY]
    pairs = evenly([(s, i) for s in SCALES for i in chosen], n)
    frames = clip_frames({i for _, i in pairs})
    for s, i in pairs:
        yield tiled(frames[i], *labels[i], s)


def crowd_truth() -> list[list[tuple[Rect, bool]]]:
    """Per frame of crowd_video.py's video, each walker's face box and whether it counts
    (wholly in the frame, and under a fifth of it covered by a walker drawn later). Replays
    the script's draws for the walkers, which come before any other draw."""
    spec = importlib.util.spec_from_file_location("crowd_video", CROWD_SCRIPT)
    assert spec is not None and spec.loader is not None
    crowd_video = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crowd_video)
    rng = np.random.default_rng(CROWD_SEED)
    height = CROWD_HEIGHT
    width, scale = height * 16 // 9 // 2 * 2, height / 1080
    cascade = cv2.CascadeClassifier(
        str(Path(cv2.__file__).parent / "data" / "haarcascade_frontalface_default.xml")
    )
    cuts = []
    for photo in crowd_video.PHOTOS:
        cut = crowd_video.head_and_shoulders(photo)
        image = cv2.imread(str(photo))
        if cut is None or image is None:
            continue
        # the face inside the crop, found as head_and_shoulders finds it
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        faces = cascade.detectMultiScale(gray, 1.1, 5, minSize=(40, 40))
        x, y, w, h = (int(v) for v in max(faces, key=lambda f: f[2] * f[3]))
        x0, y0 = max(0, int(x - 0.8 * w)), max(0, int(y - 0.6 * h))
        assert w == cut[1], photo
        cuts.append((cut[0], w, Rect(x - x0, y - y0, w, h)))
    frames = round(CROWD_SECONDS * CROWD_FPS)
    walkers = []
    for i in range(CROWD_PEOPLE):
        crop, face_w, face = cuts[i % len(cuts)]
        target = float(rng.uniform(40, 160)) * scale
        k = target / face_w
        sprite_h, sprite_w = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA).shape[:2]
        speed = float(rng.uniform(0.6, 2.0)) * target
        start = int(rng.integers(0, max(1, frames - round(CROWD_FPS * 3))))  # as crowd_video.py
        left_to_right = bool(rng.integers(0, 2))
        row = int(rng.uniform(0.1, 0.9) * (height - sprite_h))
        walkers.append((sprite_w, sprite_h, k, face, speed, start, left_to_right, row))
    out = []
    for n in range(frames):
        placed = []  # in drawing order: a later walker covers an earlier one
        for sw, sh, k, face, speed, start, ltr, row in walkers:
            t = (n - start) / CROWD_FPS
            if t < 0:
                continue
            x = int(-sw + speed * t) if ltr else int(width - speed * t)
            y = row + int(4 * scale * np.sin(t * 9))
            placed.append((Rect(x + face.x * k, y + face.y * k, face.w * k, face.h * k), Rect(x, y, sw, sh)))
        here = []
        for i, (box, _) in enumerate(placed):
            if box.x + box.w <= 0 or box.x >= width or box.y + box.h <= 0 or box.y >= height:
                continue
            inside = box.x >= 0 and box.y >= 0 and box.x + box.w <= width and box.y + box.h <= height
            covered = max((covered_part(box, later) for _, later in placed[i + 1 :]), default=0.0)
            here.append((box, inside and covered < 0.2))
        out.append(here)
    return out


def covered_part(face: Rect, sprite: Rect) -> float:
    ix = max(0.0, min(face.x + face.w, sprite.x + sprite.w) - max(face.x, sprite.x))
    iy = max(0.0, min(face.y + face.h, sprite.y + sprite.h) - max(face.y, sprite.y))
    return ix * iy / (face.w * face.h)


def crowd_items(video: Path, n: int | None) -> Iterator[Item]:
    truth = crowd_truth()
    chosen = set(evenly(range(0, len(truth), CROWD_STEP), n))
    capture, index = cv2.VideoCapture(str(video)), 0
    while index <= max(chosen):
        ok, frame = capture.read()
        if not ok:
            break
        if index in chosen:
            yield (
                frame,
                [b for b, counts in truth[index] if counts],
                [b for b, counts in truth[index] if not counts],
            )
        index += 1
    capture.release()


def street_items(video: Path, labels: Path, n: int | None) -> Iterator[Item]:
    """Every CROWD_STEP-th frame of the street with the generator's labels (Haar boxes)."""
    truth = json.loads(labels.read_text())["frames"]
    chosen = set(evenly(range(0, len(truth), CROWD_STEP), n))
    capture, index = cv2.VideoCapture(str(video)), 0
    while index <= max(chosen):
        ok, frame = capture.read()
        if not ok:
            break
        if index in chosen:
            entry = truth[str(index)]
            yield frame, [Rect(*b) for b in entry["face"]], [Rect(*b) for b in entry["ignore"]]
        index += 1
    capture.release()


def make_street(workdir: Path) -> tuple[Path, Path]:
    video, labels = workdir / "street1080.mp4", workdir / "street_labels.json"
    subprocess.run(
        [sys.executable, str(STREET_SCRIPT), str(video), "--labels", str(labels)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return video, labels


def make_crowd(workdir: Path) -> Path:
    out = workdir / "crowd1080.mp4"
    args = ["--seconds", str(CROWD_SECONDS), "--people", str(CROWD_PEOPLE)]
    subprocess.run(
        [sys.executable, str(CROWD_SCRIPT), str(out), *args], check=True, stdout=subprocess.DEVNULL
    )
    return out


# --- measurements -----------------------------------------------------------------------------
def speed(configs: list[Config], repeat: int) -> dict[str, dict[str, float]]:
    frames = [to_1080p(f) for f in clip_frames(set(SPEED_FRAMES)).values()]
    out: dict[str, dict[str, float]] = {}
    for config in configs:
        for frame in frames:  # warm up at this size (a dnn net re-plans on a new shape)
            config.search(frame)
        times = []
        for _ in range(repeat):
            for frame in frames:
                started = time.perf_counter()
                config.search(frame)
                times.append((time.perf_counter() - started) * 1e3)
        out[config.key] = {
            "ms_median": round(statistics.median(times), 1),
            "ms_p90": round(float(np.percentile(times, 90)), 1),
        }
    return out


def accuracy(configs: list[Config], items: Iterator[Item], width_factor: float) -> dict[str, Tally]:
    """Every configuration on every frame (one frame in memory at a time)."""
    tallies = {c.key: Tally(width_factor) for c in configs}
    for frame, faces, ignores in items:
        for config in configs:
            tallies[config.key].add(config.search(frame), faces, ignores)
    return tallies


def cell(row: dict[str, Any], name: str) -> str:
    part = row.get(name)
    if part is None:
        return "—"
    return f"{part['found']}/{part['faces']} / {part['false']}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument(
        "--detectors", default="haar,centerface,yunet", help="of haar, centerface, yunet, hog"
    )
    parser.add_argument("--widths", default=None, help="only these input widths, e.g. 640,1152")
    parser.add_argument("--frames", type=int, default=None, help="at most N evenly spaced frames per set")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the speed frames")
    parser.add_argument("--crowd-video", type=Path, default=None, help="made as CROWD_SECONDS etc. say")
    parser.add_argument("--street-video", type=Path, default=None, help="made by bench/street_video.py")
    parser.add_argument("--street-labels", type=Path, default=None, help="its --labels file")
    parser.add_argument("--yunet-model", default=None, help="YuNet ONNX file (else FACEWATCH_YUNET_MODEL)")
    parser.add_argument("--json", action="store_true", help="then one JSON object per configuration")
    args = parser.parse_args()
    sets = [s for s in args.sets.split(",") if s]
    if unknown := set(sets) - set(SETS):
        raise SystemExit(f"unknown sets: {sorted(unknown)}")
    cv2.setNumThreads(1)
    widths = {int(w) for w in args.widths.split(",")} if args.widths else None
    yunet_model = args.yunet_model or Settings().yunet_model
    configs = make_configs(args.detectors.split(","), widths, yunet_model)
    rows: dict[str, dict[str, Any]] = {
        c.key: {"detector": c.detector.name, "input": c.input, "width": c.width, "settings": c.settings}
        for c in configs
    }
    started = time.perf_counter()
    if "speed" in sets:
        for key, timing in speed(configs, args.repeat).items():
            rows[key].update(timing)
    labels = load_labels() if {"clip", "scales"} & set(sets) else {}
    if "clip" in sets:
        for key, tally in accuracy(configs, clip_items(labels, args.frames), HAAR_WIDTH_PER_BOX).items():
            rows[key]["clip"] = tally.summary()
    if "crowd" in sets:
        with tempfile.TemporaryDirectory(prefix="fw-bench-detectors-") as tmp:
            video = args.crowd_video or make_crowd(Path(tmp))
            for key, tally in accuracy(configs, crowd_items(video, args.frames), 1.0).items():
                rows[key]["crowd"] = tally.summary()
    if "street" in sets:
        with tempfile.TemporaryDirectory(prefix="fw-bench-detectors-") as tmp:
            if args.street_video and args.street_labels:
                video, street_labels = args.street_video, args.street_labels
            else:
                video, street_labels = make_street(Path(tmp))
            for key, tally in accuracy(configs, street_items(video, street_labels, args.frames), 1.0).items():
                rows[key]["street"] = tally.summary()
    if "scales" in sets:
        for key, tally in accuracy(configs, scale_items(labels, args.frames), HAAR_WIDTH_PER_BOX).items():
            rows[key]["scales"] = tally.summary(by_width=True)
    print(
        f"1920x1080 frames, OpenCV on one thread, {time.perf_counter() - started:.0f} s"
        + (f", at most {args.frames} frames a set" if args.frames else "")
    )
    print(
        "| detector @ input | ms/frame (p90) | clip: found / false | crowd: found / false |"
        " street: found / false | scales: recall / false | smallest reliable, video |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows.values():
        ms = f"{row['ms_median']} ({row['ms_p90']})" if "ms_median" in row else "—"
        scales = row.get("scales")
        recall = f"{scales['recall']} / {scales['false']}" if scales else "—"
        small = (scales["smallest_reliable_px"] or "none") if scales else "—"
        print(
            f"| {row['detector']} @ {row['input']} | {ms} | {cell(row, 'clip')} | {cell(row, 'crowd')} |"
            f" {cell(row, 'street')} | {recall} | {small} |"
        )
    if args.json:
        if "yunet" in args.detectors.split(",") and not yunet_model:
            print(json.dumps({"detector": "yunet", "skipped": NO_YUNET}))
        for row in rows.values():
            print(json.dumps(row))


if __name__ == "__main__":
    main()
