"""Recognition: the article's server against recognize's own path, on the same frames.

    python bench/recognize.py [--json] [--repeat N]

Baseline (the article): `face_recognition.face_encodings(frame)` on every frame (detect
again, then encode) and `compare_faces(known, encoding)`; every cold start imports
face_recognition (all four models) and encodes the known photos.
Ours: the frame's edge boxes (from the agent's detector, `--edge-detector`, its default
unless given) are used as they are when a CNN found them, else confirmed by HOG on a crop
(recognition.find_faces), then encoded (two models, loaded lazily) and judged against the
stored known encodings; a frame without boxes is searched with the CNN.
Frames: face frames of the bundled clip, as the agent uploads them, and the repo's photos
resized to 640x480. Warm: frames per second after one warm-up pass, the two paths
alternating pass by pass so both see the same load on a shared machine. Cold: a fresh
Python process, from spawn to its first verdict; ours with the model cache built
beforehand (faces/model_cache.py: dlib's model files as numpy arrays, built at install
time as a deployed function's image would have it; `model_cache` in the JSON). Both
paths get one thread (OpenCV and numpy's OpenBLAS): per-core figures. Checked in the
same run: both paths judge the same faces, and each encoding ours makes is within 1e-3
of face_recognition's on the same box.
The last line with --json is one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Before numpy is imported: one BLAS thread, as dlib-bin has one (per-core figures).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.config import Settings  # noqa: E402
from facewatch.faces.detection import FaceDetector  # noqa: E402
from facewatch.faces.detectors import make_detector  # noqa: E402
from facewatch.faces.gallery import Gallery  # noqa: E402
from facewatch.faces.models import build_caches  # noqa: E402
from facewatch.frames import Box, FrameMeta  # noqa: E402
from facewatch.images import to_rgb  # noqa: E402
from facewatch.recognize.decisions import MatchPolicy  # noqa: E402
from facewatch.recognize.known import encode_known_photo  # noqa: E402
from facewatch.recognize.recognition import find_faces, judge_faces  # noqa: E402
from facewatch.records import FaceState  # noqa: E402

KNOWN = sorted((ROOT / "testdata" / "known").glob("*/*.jpg"))
CLIP = ROOT / "testdata" / "video" / "short_hamilton_clip.mp4"


def edge_boxes(detector: FaceDetector, frame: np.ndarray) -> list[Box]:
    """The boxes the agent's whole-frame search gives (at the scale its smallest face needs)."""
    return detector.detect_in(frame, None, detector.search_scale(frame.shape[1]), detector.min_face_px)


def frames_with_edge_boxes(detector: FaceDetector, limit: int = 12) -> list[tuple[np.ndarray, list]]:
    out = []
    capture = cv2.VideoCapture(str(CLIP))
    index = 0
    while len(out) < limit - 3:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 15 == 0:
            boxes = edge_boxes(detector, frame)
            if boxes:
                out.append((frame, boxes))
        index += 1
    for path in [*KNOWN, ROOT / "testdata" / "faces" / "obama3.jpg"][:3]:
        frame = cv2.resize(cv2.imread(str(path)), (640, 480))
        out.append((frame, edge_boxes(detector, frame)))
    return out


def baseline_pass(rgbs: list[np.ndarray], known: list[np.ndarray]) -> int:
    """The article's server on each frame: detect and encode, then compare with the known."""
    import face_recognition

    faces = 0
    for rgb in rgbs:
        for encoding in face_recognition.face_encodings(rgb):
            face_recognition.compare_faces(known, encoding)
            faces += 1
    return faces


def ours_pass(frames: list, gallery: Gallery, detector: str) -> list[list]:
    """recognize's own code for each frame (recognition.find_faces and judge_faces)."""
    settings, policy, out = Settings(), MatchPolicy(), []
    for frame, boxes in frames:
        meta = FrameMeta(
            "bench",
            "door",
            datetime.now(UTC),
            frame.shape[1],
            frame.shape[0],
            tuple(boxes),
            detector=detector,
        )
        faces, _ = find_faces(frame, meta, settings)
        judged, encodings = judge_faces(frame, faces, gallery, policy)
        # every face found, including those too blurred or small to judge (no encoding)
        found = [i for i, f in enumerate(judged) if f.state is not FaceState.NOT_A_FACE]
        out.append([(judged[i], encodings.get(i)) for i in found])
    return out


def warm(frames: list, gallery: Gallery, repeat: int, detector: str) -> tuple[float, float, list]:
    """Frames per second of each path; the passes alternate so load drift hits both."""
    import face_recognition

    known = [face_recognition.face_encodings(face_recognition.load_image_file(str(p)))[0] for p in KNOWN]
    rgbs = [to_rgb(f) for f, _ in frames]
    baseline_pass(rgbs, known)  # warm-up
    ours_found = ours_pass(frames, gallery, detector)
    base_s = ours_s = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        baseline_pass(rgbs, known)
        base_s += time.perf_counter() - started
        started = time.perf_counter()
        ours_pass(frames, gallery, detector)
        ours_s += time.perf_counter() - started
    n = repeat * len(frames)
    return n / base_s, n / ours_s, ours_found


def check_same_faces(frames: list, ours_found: list) -> dict:
    """Ours finds every face the baseline finds (a box of ours over each), and each
    encoding of ours is face_recognition's encoder on the same box's chip and its mirror
    image, averaged, within 1e-3. Ours does not encode a face too blurred or small to
    judge: it is 'unsure', by policy. With a CNN at the edge ours may find faces the
    baseline's HOG misses (turned or blurred ones): counted, not refused."""
    import dlib
    import face_recognition

    worst, baseline_faces = 0.0, 0
    for (frame, _), ours in zip(frames, ours_found, strict=True):
        rgb = to_rgb(frame)
        theirs = [Box(x0, y0, x1 - x0, y1 - y0) for y0, x1, y1, x0 in face_recognition.face_locations(rgb)]
        baseline_faces += len(theirs)
        overlaps = [max((f.box.iou(b) for f, _ in ours), default=0.0) for b in theirs]
        if any(o < 0.5 for o in overlaps):
            raise SystemExit(f"different faces judged: baseline {theirs}, ours {[f.box for f, _ in ours]}")
        for face, encoding in ours:
            if encoding is None:
                continue
            b = face.box
            # Ours (the quick encoding, encodings.describe_chips) describes the face and its
            # mirror image, aligned by the 68-point landmarks (face_recognition's
            # model="large"): the reference is face_recognition's encoder on those two chips.
            rect = dlib.rectangle(b.x, b.y, b.x + b.w - 1, b.y + b.h - 1)
            chip = dlib.get_face_chip(rgb, face_recognition.api.pose_predictor_68_point(rgb, rect), 150, 0.25)
            views = [chip, np.ascontiguousarray(chip[:, ::-1])]
            net = face_recognition.api.face_encoder
            reference = np.mean([net.compute_face_descriptor(v) for v in views], axis=0)
            worst = max(worst, float(np.abs(reference - encoding).max()))
    if worst > 1e-3:
        raise SystemExit(f"our encodings differ from face_recognition's by {worst}")
    judged = sum(encoding is not None for faces in ours_found for _, encoding in faces)
    found = sum(len(faces) for faces in ours_found)
    return {"baseline": baseline_faces, "found": found, "ours": judged, "max_encoding_diff": worst}


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
from facewatch.recognize.decisions import MatchPolicy
from facewatch.faces.gallery import Gallery
from facewatch.frames import Box, FrameMeta
from facewatch.images import decode_bgr
from facewatch.recognize.recognition import find_faces, judge_faces
gallery = Gallery.from_bytes(Path(sys.argv[2]).read_bytes())
frame = decode_bgr(Path(sys.argv[1]).read_bytes(), 40_000_000)
box = Box(*json.loads(sys.argv[3]))
height, width = frame.shape[:2]
meta = FrameMeta("bench", "door", datetime.now(UTC), width, height, (box,), detector=sys.argv[4])
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


def dlib_build() -> str:
    import dlib

    site = Path(dlib.__file__).parent.parent
    origin = "dlib-bin wheel" if any(site.glob("dlib_bin-*.dist-info")) else "source build"
    return f"{dlib.__version__} {origin} ({site})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument(
        "--edge-detector", default=Settings().detector, help="the agent's detector that boxed the frames"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frames = frames_with_edge_boxes(make_detector(Settings(), args.edge_detector))
    rows = [encode_known_photo(p.read_bytes(), 40_000_000) for p in KNOWN]
    gallery = Gallery(
        [p.parent.name for p in KNOWN],
        np.array(rows, np.float32),
        [str(p) for p in KNOWN],
        ["-"] * len(KNOWN),
    )
    base_fps, ours_fps, ours_found = warm(frames, gallery, args.repeat, args.edge_detector)
    same = check_same_faces(frames, ours_found)
    caches = build_caches()  # found, or built once (~3 s): what `make install` leaves
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
                args.edge_detector,
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
        "edge_detector": args.edge_detector,
        "faces_found": same["found"],
        "faces_found_baseline": same["baseline"],
        "faces_judged_baseline": same["baseline"],
        "faces_judged_ours": same["ours"],
        "max_encoding_diff": same["max_encoding_diff"],
        "model_cache": str(caches[0].parent),
        "dlib": dlib_build(),
        "threads": 1,
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
