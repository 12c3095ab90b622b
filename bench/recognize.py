"""Recognition: the article's server against recognize's own path, on the same frames.

    python bench/recognize.py [--json] [--repeat N]

Baseline (the article): `face_recognition.face_encodings(frame)` on every frame (detect
again, then encode) and `compare_faces(known, encoding)`; every cold start imports
face_recognition (all four models) and encodes the known photos.
Ours: the frame's edge boxes (the Haar detector the agent runs) are confirmed by HOG on a
crop, encoded (two models, loaded lazily) and judged against the stored known encodings.
Frames: face frames of the bundled clip, as the agent uploads them, and the repo's photos
resized to 640x480. Warm: frames per second after one warm-up pass. Cold: a fresh Python
process, from spawn to its first verdict. The last line with --json is one JSON object."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.config import Settings  # noqa: E402
from facewatch.decisions import MatchPolicy  # noqa: E402
from facewatch.detection import HaarDetector  # noqa: E402
from facewatch.encodings import Gallery  # noqa: E402
from facewatch.frames import FrameMeta  # noqa: E402
from facewatch.gallery import encode_known_photo  # noqa: E402
from facewatch.images import to_rgb  # noqa: E402
from facewatch.recognition import find_faces, judge_faces  # noqa: E402

KNOWN = sorted((ROOT / "testdata" / "known").glob("*/*.jpg"))
CLIP = ROOT / "testdata" / "video" / "short_hamilton_clip.mp4"


def frames_with_edge_boxes(limit: int = 12) -> list[tuple[np.ndarray, list]]:
    detector, out = HaarDetector(), []
    capture = cv2.VideoCapture(str(CLIP))
    index = 0
    while len(out) < limit - 3:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 15 == 0:
            boxes = detector.detect(frame)
            if boxes:
                out.append((frame, boxes))
        index += 1
    for path in [*KNOWN, ROOT / "testdata" / "faces" / "obama3.jpg"][:3]:
        frame = cv2.resize(cv2.imread(str(path)), (640, 480))
        out.append((frame, detector.detect(frame)))
    return out


def baseline_warm(frames: list, repeat: int) -> tuple[float, int]:
    import face_recognition

    known = [face_recognition.face_encodings(face_recognition.load_image_file(str(p)))[0] for p in KNOWN]
    verdicts = 0
    rgbs = [to_rgb(f) for f, _ in frames]
    for rgb in rgbs:  # warm-up
        face_recognition.face_encodings(rgb)
    started = time.perf_counter()
    for _ in range(repeat):
        for rgb in rgbs:
            for encoding in face_recognition.face_encodings(rgb):
                face_recognition.compare_faces(known, encoding)
                verdicts += 1
    return repeat * len(frames) / (time.perf_counter() - started), verdicts // repeat


def ours_warm(frames: list, gallery: Gallery, repeat: int) -> tuple[float, int]:
    policy = MatchPolicy()
    verdicts = 0

    settings = Settings()

    def judge(frame: np.ndarray, boxes: list) -> int:
        # recognize's own code for a frame with edge boxes (recognition.find_faces/judge_faces)
        meta = FrameMeta("bench", "door", datetime.now(UTC), frame.shape[1], frame.shape[0], tuple(boxes))
        faces, _ = find_faces(frame, meta, settings)
        judged, _ = judge_faces(frame, faces, gallery, policy)
        return sum(f.verdict != "unsure" for f in judged)

    for frame, boxes in frames:  # warm-up
        judge(frame, boxes)
    started = time.perf_counter()
    for _ in range(repeat):
        for frame, boxes in frames:
            verdicts += judge(frame, boxes)
    return repeat * len(frames) / (time.perf_counter() - started), verdicts // repeat


BASELINE_COLD = """
import face_recognition, sys
known = [face_recognition.face_encodings(face_recognition.load_image_file(p))[0] for p in sys.argv[2:]]
frame = face_recognition.load_image_file(sys.argv[1])
encoding = face_recognition.face_encodings(frame)[0]
face_recognition.compare_faces(known, encoding)
print("verdict", flush=True)
"""

OURS_COLD = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path
from facewatch.config import Settings
from facewatch.decisions import MatchPolicy
from facewatch.encodings import Gallery
from facewatch.frames import Box, FrameMeta
from facewatch.images import decode_bgr
from facewatch.recognition import find_faces, judge_faces
gallery = Gallery.from_bytes(Path(sys.argv[2]).read_bytes())
frame = decode_bgr(Path(sys.argv[1]).read_bytes(), 40_000_000)
box = Box(*json.loads(sys.argv[3]))
meta = FrameMeta("bench", "door", datetime.now(UTC), frame.shape[1], frame.shape[0], (box,))
faces, _ = find_faces(frame, meta, Settings())
judged, _ = judge_faces(frame, faces, gallery, MatchPolicy())
assert judged[0].verdict != "unsure", judged
print("verdict", flush=True)
"""


def cold(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
        if "verdict" not in done.stdout:
            raise SystemExit(f"cold run failed: {done.stderr[-2000:]}")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frames = frames_with_edge_boxes()
    rows = [encode_known_photo(p.read_bytes(), 40_000_000) for p in KNOWN]
    gallery = Gallery(
        [p.parent.name for p in KNOWN],
        np.array(rows, np.float32),
        [str(p) for p in KNOWN],
        ["-"] * len(KNOWN),
    )
    base_fps, base_faces = baseline_warm(frames, args.repeat)
    ours_fps, ours_faces = ours_warm(frames, gallery, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        frame, boxes = frames[0]
        frame_path, gallery_path = Path(tmp) / "frame.jpg", Path(tmp) / "gallery.npz"
        cv2.imwrite(str(frame_path), frame)
        gallery_path.write_bytes(gallery.to_bytes())
        base_cold = cold(
            [sys.executable, "-c", BASELINE_COLD, str(frame_path), *map(str, KNOWN)], args.cold_runs
        )
        ours_cold = cold(
            [
                sys.executable,
                "-c",
                OURS_COLD,
                str(frame_path),
                str(gallery_path),
                json.dumps(boxes[0].as_list()),
            ],
            args.cold_runs,
        )
    result = {
        "frames": len(frames),
        "baseline_fps": round(base_fps, 2),
        "ours_fps": round(ours_fps, 2),
        "warm_speedup_vs_seed": round(ours_fps / base_fps, 2),
        "baseline_cold_s": round(base_cold, 2),
        "ours_cold_s": round(ours_cold, 2),
        "cold_start_vs_seed": round(ours_cold / base_cold, 2),
        "faces_judged_baseline": base_faces,
        "faces_judged_ours": ours_faces,
        "dlib": "dlib-bin wheel (no source build here)",
    }
    print(
        f"warm: baseline {base_fps:.2f} frames/s, ours {ours_fps:.2f} frames/s "
        f"({result['warm_speedup_vs_seed']}x)"
    )
    print(
        f"cold start to first verdict: baseline {base_cold:.2f} s, ours {ours_cold:.2f} s "
        f"({result['cold_start_vs_seed']} of baseline)"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
