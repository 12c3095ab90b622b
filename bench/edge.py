"""The edge: the article's webcam loop against `facewatch agent`, on the same video.

    python bench/edge.py [--video PATH] [--height 1080] [--seconds S] [--detector NAME] [--json]

Baseline (the article): every frame, `detectMultiScale(gray, 1.1, 4)` with the frontal-face
Haar cascade on the whole frame; every 10th frame with a face is JPEG-encoded (OpenCV's
default quality, 95) and sent.
Ours: the real agent (`agent.run_agent`: motion gate, searches where the scene changed,
tracker, upload policy, JPEG, on-disk spool, a background thread uploading to a real S3
endpoint: a moto server this script starts), with `--detector` (default: the configured
one). Its frames/s count every frame of the file, those it decoded without converting
(the frames it does not look at) included.
Both with OpenCV limited to one thread, each reading the file as fast as it decodes; a
third pass only decodes, the ceiling. `--height` scales the video first (for 1080p figures
from a smaller clip), `--seconds` keeps only its start (the baseline runs at about one
frame a second on 1080p); either writes the prepared file once to a temporary folder.

Coverage: of the seconds of video in which the baseline sends a face frame, the fraction in
which the agent sends a frame showing that face too (a box whose centre is within one face
width of one of the baseline's boxes in that second). Counted are the baseline's boxes that
recognize would judge: at least the configured smallest face wide (`FACEWATCH_MIN_FACE_PX`,
40 px; narrower ones are recorded "unsure" and never alert) and confirmed as a face by the
same HOG check recognize applies (`detection.confirm_face`: the article's cascade also
fires on hair, ears and textures). `coverage_all_boxes_vs_seed` counts every box the
baseline sent; `face_coverage_vs_seed` is stricter: every (second, judgeable baseline face)
pair must be matched. The last line with --json is one JSON object."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.config import Settings  # noqa: E402
from facewatch.edge.agent import ChosenFrame, run_agent  # noqa: E402
from facewatch.edge.pipeline import EdgeOptions  # noqa: E402
from facewatch.edge.spool import SpoolOptions  # noqa: E402
from facewatch.faces.centerface import backend_available  # noqa: E402
from facewatch.faces.detection import confirm_face  # noqa: E402
from facewatch.faces.detectors import DETECTOR_NAMES  # noqa: E402
from facewatch.frames import Box  # noqa: E402
from facewatch.local.processes import LOCAL_CREDENTIALS  # noqa: E402
from facewatch.local.stack import MotoServer  # noqa: E402
from facewatch.store.storage import Storage, make_s3_client  # noqa: E402

CLIP = ROOT / "testdata" / "video" / "short_hamilton_clip.mp4"
BUCKET = "bench-edge"


@dataclass
class Sent:
    """What one loop sent: per frame index, its time and boxes; and the bytes."""

    frames: dict[int, tuple[float, list[Box]]] = field(default_factory=dict)
    images: dict[int, np.ndarray] = field(default_factory=dict)
    """The baseline's sent frames, to tell its real faces from its false ones."""
    bytes: int = 0
    seconds: float = 0.0
    frames_read: int = 0

    @property
    def fps(self) -> float:
        return self.frames_read / self.seconds if self.seconds else 0.0


def video_fps(path: Path) -> float:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return fps if 1.0 <= fps <= 1000.0 else 30.0


def decode_only(path: Path) -> Sent:
    capture, out = cv2.VideoCapture(str(path)), Sent()
    started = time.perf_counter()
    while capture.read()[0]:
        out.frames_read += 1
    out.seconds = time.perf_counter() - started
    capture.release()
    return out


def decoded_frames(path: Path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def baseline(path: Path) -> Sent:
    """The article's loop, as it is written."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    capture, out, fps, face_frames = cv2.VideoCapture(str(path)), Sent(), video_fps(path), 0
    started = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index = out.frames_read
        out.frames_read += 1
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = cascade.detectMultiScale(gray, 1.1, 4)
        if len(faces) == 0:
            continue
        face_frames += 1
        if face_frames % 10 == 0:
            ok, jpeg = cv2.imencode(".jpg", frame)
            out.bytes += len(jpeg)
            out.frames[index] = (index / fps, [Box(*map(int, f)) for f in faces])
            out.images[index] = frame
    out.seconds = time.perf_counter() - started
    capture.release()
    return out


def agent(path: Path, workdir: Path, detector: str) -> tuple[Sent, dict[str, int | float]]:
    server = MotoServer(workdir).start()
    try:
        os.environ.update(LOCAL_CREDENTIALS)
        settings = Settings(bucket=BUCKET, s3_endpoint_url=server.endpoint, detector=detector)
        storage = Storage(make_s3_client(settings), BUCKET)
        storage.ensure_bucket()
        out = Sent()

        def chosen(frame: ChosenFrame) -> None:
            out.frames[frame.index] = (frame.time, list(frame.meta.boxes))

        started = time.perf_counter()
        summary = run_agent(
            str(path),
            household="bench",
            camera="door",
            settings=settings,
            storage=storage,
            on_upload=chosen,
            options=EdgeOptions(spool=SpoolOptions(directory=workdir / "spool", drain_timeout=60)),
        )
        out.seconds = time.perf_counter() - started
        out.frames_read = summary.frames_read
        out.bytes = summary.upload_bytes
        assert summary.frames_uploaded == summary.frames_chosen, "the agent lost frames"
        # frames_read counts the frames the agent decoded without converting them, too
        assert summary.frames_read == decoded_frames(path), "the agent did not read the whole file"
        return out, summary.as_dict()
    finally:
        server.stop()


def by_second(sent: Sent, keep: Callable[[int, Box], bool] = lambda index, box: True) -> dict[int, list[Box]]:
    seconds: dict[int, list[Box]] = defaultdict(list)
    for index, (time_s, boxes) in sent.frames.items():
        seconds[math.floor(time_s)] += [b for b in boxes if keep(index, b)]
    return seconds


def judgeable(base: Sent, min_face_px: int) -> Callable[[int, Box], bool]:
    """A baseline box recognize would judge: wide enough, and a face to dlib's HOG (the
    check recognize itself applies; Haar also fires on hair, ears and textures)."""

    def keep(index: int, box: Box) -> bool:
        return min(box.w, box.h) >= min_face_px and confirm_face(base.images[index], box) is not None

    return keep


def same_face(a: Box, b: Box) -> bool:
    (ax, ay), (bx, by) = (a.x + a.w / 2, a.y + a.h / 2), (b.x + b.w / 2, b.y + b.h / 2)
    return math.hypot(ax - bx, ay - by) <= max(a.w, b.w)


def coverage(
    base: Sent, ours: Sent, keep: Callable[[int, Box], bool] = lambda index, box: True
) -> tuple[float, float, list[int]]:
    """(second coverage, face-second coverage, seconds missed), over the baseline's boxes
    that `keep` accepts."""
    theirs = {s: boxes for s, boxes in by_second(base, keep).items() if boxes}
    mine = by_second(ours)
    if not theirs:
        return 1.0, 1.0, []
    covered, faces, faces_covered, missed = 0, 0, 0, []
    for second, boxes in sorted(theirs.items()):
        hits = [any(same_face(b, m) for m in mine.get(second, [])) for b in boxes]
        faces += len(hits)
        faces_covered += sum(hits)
        if any(hits):
            covered += 1
        else:
            missed.append(second)
    return covered / len(theirs), faces_covered / faces, missed


def prepared_copy(path: Path, height: int | None, seconds: float | None, workdir: Path) -> Path:
    """The video scaled to `height` and/or cut to its first `seconds`, re-encoded once (both
    loops then read the same file)."""
    capture = cv2.VideoCapture(str(path))
    fps = video_fps(path)
    w, h = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    size = (round(w * height / h) // 2 * 2, height) if height else (w, h)
    frames = round(seconds * fps) if seconds else None
    target = workdir / f"{path.stem}-{size[1]}p.mp4"
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    written = 0
    while frames is None or written < frames:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(frame if size == (w, h) else cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC))
        written += 1
    writer.release()
    capture.release()
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=CLIP)
    parser.add_argument("--height", type=int, default=None, help="scale the video to this height first")
    parser.add_argument("--seconds", type=float, default=None, help="use only the video's first seconds")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument(
        "--detector",
        choices=DETECTOR_NAMES,
        default=Settings().detector,
        help="the agent's detector (the baseline is always the article's Haar loop)",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="fw-bench-edge-") as tmp:
        workdir = Path(tmp)
        changed = args.height or args.seconds
        video = prepared_copy(args.video, args.height, args.seconds, workdir) if changed else args.video
        capture = cv2.VideoCapture(str(video))
        size = f"{int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        capture.release()
        decode = decode_only(video)
        base = baseline(video)
        ours, summary = agent(video, workdir, args.detector)
    min_face_px = Settings().min_face_px
    second_cov, face_cov, missed = coverage(base, ours, judgeable(base, min_face_px))
    all_cov, _, _ = coverage(base, ours)
    result = {
        "video": args.video.name,
        "size": size,
        "detector": args.detector + (f" ({backend_available()})" if args.detector == "centerface" else ""),
        "frames": base.frames_read,
        "decode_fps": round(decode.fps, 1),
        "baseline_fps": round(base.fps, 1),
        "agent_fps": round(ours.fps, 1),
        "speedup_vs_seed": round(ours.fps / base.fps, 2),
        "coverage_vs_seed": round(second_cov, 3),
        "face_coverage_vs_seed": round(face_cov, 3),
        "coverage_all_boxes_vs_seed": round(all_cov, 3),
        "min_face_px": min_face_px,
        "seconds_missed": missed,
        "baseline_frames_sent": len(base.frames),
        "agent_frames_sent": len(ours.frames),
        "baseline_bytes": base.bytes,
        "agent_bytes": ours.bytes,
        "upload_bytes_vs_seed": round(ours.bytes / base.bytes, 3) if base.bytes else None,
        "agent_frames_looked_at": summary["frames_read"] - summary["frames_passed"],
        "agent_detector_frames": summary["frames_detected"],
        "agent_full_scans": summary["full_scans"],
        "agent_tracks": summary["tracks"],
    }
    print(f"video {result['video']} {size}, {result['frames']} frames; OpenCV on one thread")
    print(f"  decode only     {result['decode_fps']:8.1f} frames/s  (the ceiling)")
    print(
        f"  baseline        {result['baseline_fps']:8.1f} frames/s  {len(base.frames)} frames, {base.bytes} B"
    )
    print(f"  agent           {result['agent_fps']:8.1f} frames/s  {len(ours.frames)} frames, {ours.bytes} B")
    print(
        f"  speedup {result['speedup_vs_seed']}x, coverage {result['coverage_vs_seed']} "
        f"(per face {result['face_coverage_vs_seed']}, all boxes {result['coverage_all_boxes_vs_seed']}), "
        f"bytes {result['upload_bytes_vs_seed']}x"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
