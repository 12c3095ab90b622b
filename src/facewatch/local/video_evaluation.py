"""`facewatch eval --videos`: the decision rule measured per visit, on labelled clips.

Each clip (VIDEOS/<label>/*.mp4, one person: a name enrolled from KNOWN/<name>/, or
`stranger`) is played through the edge agent (its detector, tracker and frame choice, its
uploads) into a real S3 server (an embedded moto server), and every uploaded frame is handed,
in capture order, to recognize's own Recognizer, which alerts through a notifier that only
counts. Each clip is its own household, with the people of KNOWN enrolled in it, so no visit
or remembered stranger crosses from one clip to another; within a clip, the visit window and
the track votes work as at a camera.

A clip is one visit. The figures, per clip and summed over the clips:

- known_visits: clips labelled with a known name.
- known_visits_named: of those, clips where at least one face was named as the label and
  none as anyone else.
- known_visits_alerted (false alarms): known clips for which any stranger alert went out.
- stranger_visits: clips labelled `stranger`.
- stranger_visits_alerted_once: stranger clips for which exactly one stranger alert went out.
- stranger_visits_named (missed alarms): stranger clips where any face was named as a known
  person.
- faces_unsure: faces (in any clip) that recognize left unsure."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from facewatch.config import Settings
from facewatch.edge.agent import ChosenFrame, run_agent
from facewatch.edge.pipeline import EdgeOptions
from facewatch.edge.spool import SpoolOptions
from facewatch.exceptions import BadInput
from facewatch.faces.detection import FaceDetector
from facewatch.faces.detectors import make_detector
from facewatch.local.demo import known_people
from facewatch.local.evaluation import eval_storage
from facewatch.recognize.known import enroll
from facewatch.recognize.recognizer import Recognizer
from facewatch.recognize.triggers import StorageEvent
from facewatch.records import Alert, AlertOutcome, DeliveryStatus, FrameResult
from facewatch.store.storage import Storage

STRANGER = "stranger"
"""The label of a clip of someone nobody enrolled."""
CLIP_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
CAMERA = "eval"
VISIT_FIGURES = (
    "known_visits",
    "known_visits_named",
    "known_visits_alerted",
    "stranger_visits",
    "stranger_visits_alerted_once",
    "stranger_visits_named",
    "faces_unsure",
)


@dataclass(frozen=True)
class LabelledClip:
    label: str
    path: Path


def labelled_clips(videos_dir: Path, known_names: set[str]) -> list[LabelledClip]:
    """VIDEOS/<label>/*.mp4 → the clips, each checked readable; a clear refusal otherwise."""
    if not videos_dir.is_dir():
        raise BadInput(f"videos directory {videos_dir} does not exist")
    clips = []
    for folder in sorted(p for p in videos_dir.iterdir() if p.is_dir()):
        if folder.name != STRANGER and folder.name not in known_names:
            raise BadInput(
                f"{folder}: label {folder.name!r} is neither a known person "
                f"({', '.join(sorted(known_names))}) nor {STRANGER!r}"
            )
        found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES)
        if not found:
            raise BadInput(f"{folder} holds no clips (*{', *'.join(sorted(CLIP_SUFFIXES))})")
        for path in found:
            check_readable(path)
            clips.append(LabelledClip(folder.name, path))
    if not clips:
        raise BadInput(f"{videos_dir} holds no <label>/ folders of clips")
    return clips


def check_readable(path: Path) -> None:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened() or not capture.read()[0]:
            raise BadInput(f"clip {path} cannot be read as a video")
    finally:
        capture.release()


@dataclass
class AlertTally:
    """A notifier that delivers nothing and counts the stranger alerts per household."""

    strangers: dict[str, int] = field(default_factory=dict)

    def send(self, alert: Alert) -> AlertOutcome:
        if alert.kind == "stranger":
            self.strangers[alert.household] = self.strangers.get(alert.household, 0) + 1
        return AlertOutcome(status=DeliveryStatus.SENT, kind=alert.kind)


def score_clip(label: str, results: Sequence[FrameResult], stranger_alerts: int) -> dict[str, int]:
    """One clip's visit figures (see the module's doc) from its judged frames and alerts."""
    faces = [face for result in results for face in result.faces]
    named = {face.name for face in faces if face.verdict == "known"}
    figures = dict.fromkeys(VISIT_FIGURES, 0)
    figures["faces_unsure"] = sum(face.verdict == "unsure" for face in faces)
    if label == STRANGER:
        figures["stranger_visits"] = 1
        figures["stranger_visits_alerted_once"] = int(stranger_alerts == 1)
        figures["stranger_visits_named"] = int(bool(named))
    else:
        figures["known_visits"] = 1
        figures["known_visits_named"] = int(named == {label})
        figures["known_visits_alerted"] = int(stranger_alerts > 0)
    return figures


def face_counts(results: Sequence[FrameResult]) -> dict[str, Any]:
    faces = [face for result in results for face in result.faces]
    return {
        "frames_judged": len(results),
        "faces": len(faces),
        "faces_known": sum(f.verdict == "known" for f in faces),
        "faces_stranger": sum(f.verdict == "stranger" for f in faces),
        "names": sorted({f.name for f in faces if f.verdict == "known" and f.name}),
    }


@dataclass(frozen=True)
class PlayedClip:
    frames_read: int
    frames_uploaded: int
    results: list[FrameResult]


def play_clip(
    clip: LabelledClip,
    household: str,
    storage: Storage,
    settings: Settings,
    recognizer: Recognizer,
    detector: FaceDetector,
    scratch: Path,
) -> PlayedClip:
    """One clip through the edge agent into `household` at camera CAMERA, and each frame it
    uploaded through `recognizer`, in capture order."""
    uploaded: list[ChosenFrame] = []
    summary = run_agent(
        str(clip.path),
        household=household,
        camera=CAMERA,
        settings=settings,
        storage=storage,
        options=EdgeOptions(spool=SpoolOptions(directory=scratch / "spool" / household)),
        on_upload=uploaded.append,
        detector=detector,
    )
    results = []
    for chosen in sorted(uploaded, key=lambda c: c.meta.captured_at):
        event = StorageEvent("created", storage.bucket, chosen.key, storage.etag(chosen.key))
        outcome = recognizer.handle(event)
        if outcome.result is not None:
            results.append(outcome.result)
    return PlayedClip(summary.frames_read, len(uploaded), results)


def clip_entry(clip: LabelledClip, played: PlayedClip, alerts: int) -> dict[str, Any]:
    return {
        "clip": str(clip.path),
        "label": clip.label,
        "frames_read": played.frames_read,
        "frames_uploaded": played.frames_uploaded,
        **face_counts(played.results),
        "stranger_alerts": alerts,
        **score_clip(clip.label, played.results, alerts),
    }


def evaluate_videos(videos_dir: Path, known_dir: Path, settings: Settings) -> dict[str, Any]:
    """Play every clip through the edge and recognize; the figures, per clip and in total."""
    people = known_people(known_dir)
    clips = labelled_clips(videos_dir, set(people))
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="facewatch-eval-videos-") as tmp,
        eval_storage(Path(tmp), "facewatch-eval-videos") as (
            storage,
            endpoint,
        ),
    ):
        run_settings = settings.model_copy(
            update={"s3_endpoint_url": endpoint, "bucket": storage.bucket, "encodings_check_seconds": 0}
        )
        tally = AlertTally()
        recognizer = Recognizer.from_settings(storage, run_settings, tally)
        detector = make_detector(run_settings)
        entries = []
        for index, clip in enumerate(clips):
            household = f"clip{index:04d}"
            for name, photos in people.items():
                enroll(
                    storage,
                    household,
                    name,
                    [(p.name, p.read_bytes()) for p in photos],
                    run_settings.max_image_pixels,
                )
            played = play_clip(clip, household, storage, run_settings, recognizer, detector, Path(tmp))
            entries.append(clip_entry(clip, played, tally.strangers.get(household, 0)))
    totals = {figure: sum(entry[figure] for entry in entries) for figure in VISIT_FIGURES}
    return {
        **totals,
        "clips": entries,
        "known": sorted(people),
        "seconds": round(time.perf_counter() - started, 1),
    }
