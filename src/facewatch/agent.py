"""The edge agent: read a camera, find faces cheaply, upload only frames that hold one."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import cv2

from facewatch.config import Settings
from facewatch.detection import make_detector
from facewatch.exceptions import BadInput
from facewatch.frames import FrameMeta
from facewatch.layout import check_id
from facewatch.spool import Forwarder, Spool
from facewatch.storage import Storage
from facewatch.uploads import frame_object, put_frame

log = logging.getLogger(__name__)


@dataclass
class AgentSummary:
    frames_read: int = 0
    frames_detected: int = 0
    faces_seen: int = 0
    frames_uploaded: int = 0
    upload_bytes: int = 0
    upload_failures: int = 0
    spooled: int = 0
    """Frames still in the spool when the agent stopped: sent on its next start."""
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def open_source(source: str) -> cv2.VideoCapture:
    """A webcam index ("0"), a video file, or an RTSP/HTTP stream URL."""
    capture = cv2.VideoCapture(int(source)) if source.isdigit() else cv2.VideoCapture(source)
    if not capture.isOpened():
        raise BadInput(f"video source {source!r} could not be opened")
    return capture


def run_agent(
    source: str,
    *,
    household: str,
    camera: str,
    settings: Settings,
    storage: Storage,
    upload_interval: float = 1.0,
    stop: threading.Event | None = None,
    on_frame: Callable[[AgentSummary], None] | None = None,
    spool_dir: Path | None = None,
    spool_max_bytes: int = 512 * 1024 * 1024,
    drain_timeout: float = 120.0,
) -> AgentSummary:
    """Process a source until it ends or `stop` is set. A file is read as fast as it
    decodes, its capture time derived from its position; a live source uses the clock.
    Frames go through the on-disk spool; before returning, the agent waits up to
    `drain_timeout` for the spool to drain, and what is left is sent on the next start."""
    check_id(household, "household")
    check_id(camera, "camera")
    capture = open_source(source)
    detector = make_detector(settings)
    spool = Spool(spool_dir or default_spool_dir(household, camera), spool_max_bytes)
    forwarder = Forwarder(spool, lambda key, jpeg, meta: put_frame(storage, key, jpeg, meta)).start()
    live = not capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0
    started = datetime.now(UTC)
    summary = AgentSummary()
    last_upload: float | None = None
    try:
        while stop is None or not stop.is_set():
            ok, frame = capture.read()
            if not ok:
                break
            summary.frames_read += 1
            position = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            captured = datetime.now(UTC) if live else started + timedelta(seconds=position)
            boxes = detector.detect(frame)
            summary.frames_detected += 1
            summary.faces_seen += len(boxes)
            if boxes and (last_upload is None or position - last_upload >= upload_interval):
                meta = FrameMeta(household, camera, captured, frame.shape[1], frame.shape[0], tuple(boxes))
                forwarder.submit(*frame_object(frame, meta, settings.jpeg_quality))
                last_upload = position
            if on_frame is not None:
                on_frame(summary)
    finally:
        capture.release()
        forwarder.flush(drain_timeout)
        forwarder.stop()
        summary.frames_uploaded = forwarder.stats.uploaded
        summary.upload_bytes = forwarder.stats.uploaded_bytes
        summary.upload_failures = forwarder.stats.failures
        summary.spooled = forwarder.pending
        summary.dropped = spool.dropped
    return summary


def default_spool_dir(household: str, camera: str) -> Path:
    base = os.environ.get("FACEWATCH_SPOOL_DIR") or Path.home() / ".cache" / "facewatch" / "spool"
    return Path(base) / f"{household}-{camera}"


@click.command()
@click.option("--source", required=True, help="Webcam index, video file, or rtsp://… / http://… URL.")
@click.option("--household", required=True)
@click.option("--camera", required=True)
def agent_command(source: str, household: str, camera: str) -> None:
    """Run the edge agent on SOURCE, uploading face frames to the configured bucket."""
    import json
    import sys

    from facewatch.config import get_settings
    from facewatch.exceptions import FacewatchError
    from facewatch.storage import Storage

    settings = get_settings()
    try:
        summary = run_agent(
            source,
            household=household,
            camera=camera,
            settings=settings,
            storage=Storage.from_settings(settings),
        )
    except FacewatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(summary.as_dict()))
