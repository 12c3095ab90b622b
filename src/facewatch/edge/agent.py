"""The edge agent: read a camera, let the edge pipeline (edge/pipeline.py) choose the frames
that cover every face, and upload them.

Chosen frames are JPEG-encoded with their metadata (uploads.py: the path the detect
function uses too) and go to the on-disk spool (spool.py); a background thread uploads them
in order and retries with backoff while storage is away. The capture loop never touches the
network."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facewatch.config import Settings
from facewatch.edge.capture import CaptureOptions, FrameSource, redact
from facewatch.edge.pipeline import AgentSummary, EdgeOptions, EdgePipeline, Outgoing
from facewatch.edge.spool import Forwarder, Spool
from facewatch.edge.uploads import frame_object, frame_tags, put_frame
from facewatch.faces.detection import FaceDetector
from facewatch.faces.detectors import make_detector
from facewatch.frames import FrameMeta
from facewatch.layout import check_id
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChosenFrame:
    """A frame the agent chose to upload, as spooled."""

    key: str
    index: int
    time: float
    meta: FrameMeta
    size: int


def default_spool_dir(settings: Settings, household: str, camera: str) -> Path:
    base = settings.spool_dir or Path.home() / ".cache" / "facewatch" / "spool"
    return base / f"{household}-{camera}"


def new_track_base() -> int:
    """Track ids start at the microsecond the agent starts: recognize joins a face to an open
    visit by (camera, track id), so ids must never repeat across restarts of a camera's
    agent (and stay below 2**53 for JSON readers)."""
    return time.time_ns() // 1000


def run_agent(
    source: str,
    *,
    household: str,
    camera: str,
    settings: Settings,
    storage: Storage,
    options: EdgeOptions | None = None,
    capture: CaptureOptions | None = None,
    stop: threading.Event | None = None,
    on_frame: Callable[[AgentSummary], None] | None = None,
    on_upload: Callable[[ChosenFrame], None] | None = None,
    detector: FaceDetector | None = None,
    first_track_id: int | None = None,
) -> AgentSummary:
    """Run the agent on a source until it ends or `stop` is set.

    A file is read as fast as it decodes, its capture times derived from its position; a
    live source uses the clock and is reopened when it drops (a frame held back for a
    better view is sent when the drop begins). When the source ends (a file's
    end, a stream given up on), run_agent waits up to `options.spool.drain_timeout` seconds
    for the spool to drain before returning: a file's every chosen frame is uploaded by
    then, unless storage stayed away. When stopped (`stop` set, e.g. by SIGINT), it waits
    at most `options.spool.stop_flush_timeout`. What is left stays in the spool and is sent
    on the next start."""
    check_id(household, "household")
    check_id(camera, "camera")
    options = options or EdgeOptions()
    frames = FrameSource(source, capture or CaptureOptions()).open(stop)
    detector = detector or make_detector(settings)
    detector_name = detector.name
    pipeline = EdgePipeline(
        detector,
        options=options,
        first_track_id=new_track_base() if first_track_id is None else first_track_id,
    )
    kept = options.spool
    tags = frame_tags(settings.frame_expiry_days)
    spool = Spool(kept.directory or default_spool_dir(settings, household, camera), kept.max_bytes)
    forwarder = Forwarder(
        spool, lambda key, jpeg, meta: put_frame(storage, key, jpeg, meta, tags), max_backoff=kept.max_backoff
    ).start()
    summary, started, ended = pipeline.summary, time.perf_counter(), False
    log.info("agent: %s → bucket %s as %s/%s", redact(source), settings.bucket, household, camera)

    def send(outgoing: Outgoing | None) -> None:
        if outgoing is None:
            return
        meta = FrameMeta(
            household,
            camera,
            outgoing.frame.captured_at,
            outgoing.frame.image.shape[1],
            outgoing.frame.image.shape[0],
            tuple(v.box for v in outgoing.views),
            tuple(v.track_id for v in outgoing.views),
            detector=detector_name,
        )
        key, jpeg, metadata = frame_object(outgoing.frame.image, meta, settings.jpeg_quality)
        forwarder.submit(key, jpeg, metadata)
        summary.frames_chosen += 1
        if on_upload is not None:
            on_upload(ChosenFrame(key, outgoing.frame.index, outgoing.frame.time, meta, len(jpeg)))

    def dropped() -> None:
        # The frame held for a sharper view would otherwise wait for the source to come
        # back, which may be hours: the view it waited for is not coming.
        send(pipeline.finish())

    try:
        looked = 0
        for frame in frames.frames(stop, on_drop=dropped, want=pipeline.wants):
            looked += 1
            summary.frames_passed = frames.passed
            summary.frames_read = looked + frames.passed
            send(pipeline.process(frame))
            if on_frame is not None:
                _sync(summary, forwarder, frames, started)
                on_frame(summary)
        summary.frames_passed = frames.passed
        summary.frames_read = looked + frames.passed
        send(pipeline.finish())
        ended = not (stop is not None and stop.is_set())
    finally:
        frames.close()
        if not forwarder.flush(kept.drain_timeout if ended else kept.stop_flush_timeout):
            log.warning(
                "%d frame(s) left in the spool %s: sent on the next start", forwarder.pending, spool.directory
            )
        forwarder.stop()
        _sync(summary, forwarder, frames, started)
        spool.close()
    return summary


def _sync(summary: AgentSummary, forwarder: Forwarder, frames: FrameSource, started: float) -> None:
    summary.frames_uploaded = forwarder.stats.uploaded
    summary.upload_bytes = forwarder.stats.uploaded_bytes
    summary.upload_failures = forwarder.stats.failures
    summary.spooled = forwarder.pending
    summary.dropped = forwarder.spool.dropped
    summary.reconnects = frames.reconnects
    summary.seconds = round(time.perf_counter() - started, 3)


# --- the command ----------------------------------------------------------------------
