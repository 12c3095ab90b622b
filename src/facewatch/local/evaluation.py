"""`facewatch eval`: how often the decision rule names known people rightly and takes
strangers for someone, on labelled photo folders.

The gallery (DIR/<name>/*.jpg|*.png) is enrolled exactly as `facewatch enroll` does it, into
a real S3 server (an embedded moto server), and read back the way recognize reads it. Each
probe (DIR/<name>/*; a name not in the gallery is a stranger) is detected as recognize
detects a frame that came without boxes, and judged by recognize's own `judge_faces`."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facewatch.config import Settings
from facewatch.exceptions import BadImage, BadInput
from facewatch.faces.detection import HogDetector
from facewatch.faces.gallery import Gallery
from facewatch.frames import Box
from facewatch.images import decode_bgr
from facewatch.layout import IMAGE_SUFFIXES
from facewatch.recognize.decisions import MatchPolicy, gallery_model
from facewatch.recognize.recognition import PENDING, judge_faces
from facewatch.records import FaceState, FaceVerdict
from facewatch.store.storage import Storage

HOUSEHOLD = "eval"


@dataclass
class EvalReport:
    known_probes: int = 0
    known_correct: int = 0
    known_wrong_person: int = 0
    known_called_stranger: int = 0
    stranger_probes: int = 0
    stranger_false_accepts: int = 0
    unsure: int = 0
    no_face: int = 0
    images: int = 0
    seconds: float = 0.0
    threshold: float | None = None
    """The distance threshold the rule derived from this gallery."""
    encodings_format: int | None = None
    """How the faces were encoded (gallery.GALLERY_FORMAT): figures of different formats
    are not comparable."""
    mistakes: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "mistakes"}
        out["known_correct_rate"] = (
            round(self.known_correct / self.known_probes, 4) if self.known_probes else None
        )
        out["stranger_false_accept_rate"] = (
            round(self.stranger_false_accepts / self.stranger_probes, 4) if self.stranger_probes else None
        )
        out["seconds_per_image"] = round(self.seconds / self.images, 3) if self.images else None
        return out


def labelled_images(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        raise BadInput(f"{root} is not a directory of <name>/ folders")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            yield folder.name, image


def central_face(boxes: list[Box], width: int, height: int) -> Box:
    """The labelled face of a probe with several: the one nearest the image centre."""
    cx, cy = width / 2, height / 2
    return min(boxes, key=lambda b: (b.x + b.w / 2 - cx) ** 2 + (b.y + b.h / 2 - cy) ** 2)


def enroll_gallery(gallery_dir: Path, settings: Settings) -> Gallery:
    """Enroll through the real path (S3 + known.enroll) and read the stored object back."""
    from facewatch.recognize.known import enroll, load_gallery

    people: dict[str, list[Path]] = {}
    for name, path in labelled_images(gallery_dir):
        people.setdefault(name, []).append(path)
    if not people:
        raise BadInput(f"{gallery_dir} holds no <name>/*.jpg|*.png photos")
    with (
        tempfile.TemporaryDirectory(prefix="facewatch-eval-") as tmp,
        eval_storage(Path(tmp), "facewatch-eval") as (storage, _),
    ):
        for name, photos in people.items():
            enroll(
                storage,
                HOUSEHOLD,
                name,
                [(p.name, p.read_bytes()) for p in photos],
                settings.max_image_pixels,
            )
        return load_gallery(storage, HOUSEHOLD)[0]


@contextmanager
def eval_storage(workdir: Path, bucket: str) -> Iterator[tuple[Storage, str]]:
    """A bucket on an embedded moto server, and the server's endpoint: what the stills and
    the clips are judged against, through the real storage path."""
    import boto3

    from facewatch.local.processes import LOCAL_CREDENTIALS
    from facewatch.local.stack import MotoServer

    server = MotoServer(workdir).start()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        storage = Storage(client, bucket)
        storage.ensure_bucket()
        yield storage, server.endpoint
    finally:
        server.stop()


def evaluate(gallery_dir: Path, probes_dir: Path, settings: Settings) -> EvalReport:
    gallery = enroll_gallery(gallery_dir, settings)
    known_people = set(gallery.people)
    report = EvalReport()
    policy = MatchPolicy.from_settings(settings)
    report.threshold = round(gallery_model(gallery).threshold(policy), 4)
    report.encodings_format = gallery.format
    # Photos are larger than camera frames: search them at up to 1600 px so small faces in
    # news photos are found; the judgement is what is being measured.
    detector = HogDetector(max_width=max(settings.detect_width, 1600), min_face_px=settings.min_face_px)
    for label, path in labelled_images(probes_dir):
        started = time.perf_counter()
        is_known = label in known_people
        try:
            image = decode_bgr(path.read_bytes(), settings.max_image_pixels)
        except BadImage:
            report.no_face += 1
            continue
        boxes = detector.detect(image)
        report.images += 1
        if not boxes:
            report.no_face += 1
            report.seconds += time.perf_counter() - started
            continue
        box = central_face(boxes, image.shape[1], image.shape[0])
        pending = [FaceVerdict(box=box, verdict="unsure", state=FaceState.PENDING, reason=PENDING)]
        verdict = judge_faces(image, pending, gallery, policy)[0][0]
        report.seconds += time.perf_counter() - started
        _score(report, label, is_known, verdict.verdict, verdict.name, verdict.distance, path)
    return report


def _score(
    report: EvalReport,
    label: str,
    is_known: bool,
    verdict: str,
    name: str | None,
    distance: float | None,
    path: Path,
) -> None:
    if is_known:
        report.known_probes += 1
        if verdict == "known" and name == label:
            report.known_correct += 1
            return
        if verdict == "known":
            report.known_wrong_person += 1
        elif verdict == "stranger":
            report.known_called_stranger += 1
        else:
            report.unsure += 1
    else:
        report.stranger_probes += 1
        if verdict != "known":
            report.unsure += verdict == "unsure"
            return
        report.stranger_false_accepts += 1
    report.mistakes.append(
        {"probe": str(path), "label": label, "verdict": verdict, "name": name, "distance": distance}
    )
