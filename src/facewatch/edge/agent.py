"""The edge agent: read a camera, let the edge pipeline (edgepipeline.py) choose the frames
that cover every face, and upload them.

Chosen frames are JPEG-encoded with their metadata (uploads.py: the path the detect
function uses too) and go to the on-disk spool (spool.py); a background thread uploads them
in order and retries with backoff while storage is away. The capture loop never touches the
network."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from facewatch.config import Settings
from facewatch.edge.capture import CaptureOptions, FrameSource, redact
from facewatch.edge.motion import MotionParams
from facewatch.edge.pipeline import AgentSummary, EdgeOptions, EdgePipeline, Outgoing
from facewatch.edge.spool import DEFAULT_MAX_BYTES, Forwarder, Spool
from facewatch.edge.tracking import UploadPolicy
from facewatch.edge.uploads import frame_object, put_frame
from facewatch.exceptions import FacewatchError
from facewatch.faces.detection import FaceDetector, make_detector
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
    upload_interval: float = UploadPolicy.interval,
    stop: threading.Event | None = None,
    on_frame: Callable[[AgentSummary], None] | None = None,
    spool_dir: Path | None = None,
    spool_max_bytes: int = DEFAULT_MAX_BYTES,
    drain_timeout: float = 120.0,
    stop_flush_timeout: float = 5.0,
    options: EdgeOptions | None = None,
    capture: CaptureOptions | None = None,
    on_upload: Callable[[ChosenFrame], None] | None = None,
    detector: FaceDetector | None = None,
    first_track_id: int | None = None,
    max_backoff: float = 15.0,
) -> AgentSummary:
    """Run the agent on a source until it ends or `stop` is set.

    A file is read as fast as it decodes, its capture times derived from its position; a
    live source uses the clock and is reopened when it drops (a frame held back for a
    better view is sent when the drop begins). When the source ends (a file's
    end, a stream given up on), run_agent waits up to `drain_timeout` seconds for the spool
    to drain before returning: a file's every chosen frame is uploaded by then, unless
    storage stayed away. When stopped (`stop` set, e.g. by SIGINT), it waits at most
    `stop_flush_timeout`. What is left stays in the spool and is sent on the next start."""
    check_id(household, "household")
    check_id(camera, "camera")
    options = options or EdgeOptions()
    frames = FrameSource(source, capture or CaptureOptions()).open(stop)
    pipeline = EdgePipeline(
        detector or make_detector(settings),
        options=options,
        policy=UploadPolicy(
            interval=upload_interval,
            prefer_window=options.prefer_window,
            min_gap=options.min_gap,
            min_hits=options.min_hits,
            lookahead=options.scan_interval,
        ),
        first_track_id=new_track_base() if first_track_id is None else first_track_id,
    )
    spool = Spool(spool_dir or default_spool_dir(settings, household, camera), spool_max_bytes)
    forwarder = Forwarder(
        spool, lambda key, jpeg, meta: put_frame(storage, key, jpeg, meta), max_backoff=max_backoff
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
        for frame in frames.frames(stop, on_drop=dropped):
            summary.frames_read += 1
            send(pipeline.process(frame))
            if on_frame is not None:
                _sync(summary, forwarder, frames, started)
                on_frame(summary)
        send(pipeline.finish())
        ended = not (stop is not None and stop.is_set())
    finally:
        frames.close()
        if not forwarder.flush(drain_timeout if ended else stop_flush_timeout):
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

_EDGE = EdgeOptions()  # slotted: its class attributes are descriptors, not defaults


def _install_stop_handlers(stop: threading.Event) -> None:
    """SIGINT/SIGTERM stop capture and flush what can be flushed; a second one leaves at once
    (the spool keeps the rest)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("signal %d: stopping capture, flushing the spool", signum)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


@click.command()
@click.option(
    "--source", required=True, help="Webcam index (0) or device (/dev/video0), video file, or rtsp://… URL."
)
@click.option("--household", required=True, help="Household id (a-z, 0-9, '-', '_').")
@click.option("--camera", required=True, help="Camera id, as alerts name it.")
@click.option(
    "--upload-interval",
    type=float,
    default=UploadPolicy.interval,
    show_default=True,
    help="About one frame per face per this many seconds (sooner when the next look may miss it).",
)
@click.option(
    "--prefer-window",
    type=float,
    default=UploadPolicy.prefer_window,
    show_default=True,
    help="Seconds to wait for a sharper/larger view once a face is due.",
)
@click.option(
    "--min-gap",
    type=float,
    default=UploadPolicy.min_gap,
    show_default=True,
    help="At most one frame per this many seconds in all.",
)
@click.option(
    "--scan-interval",
    type=float,
    default=_EDGE.scan_interval,
    show_default=True,
    help="Seconds between detection ticks.",
)
@click.option(
    "--idle-scan-interval",
    type=float,
    default=_EDGE.idle_scan_interval,
    show_default=True,
    help="Seconds between whole-frame searches of a still scene.",
)
@click.option(
    "--motion-threshold",
    type=int,
    default=MotionParams.threshold,
    show_default=True,
    help="Grey levels a region must change by to be searched.",
)
@click.option("--no-motion-gate", is_flag=True, help="Search the whole frame at every tick.")
@click.option(
    "--detector",
    type=click.Choice(["haar", "hog", "yunet"]),
    default=None,
    help="Face detector [default: FACEWATCH_DETECTOR or haar].",
)
@click.option("--yunet-model", type=click.Path(dir_okay=False), default=None, help="YuNet ONNX model file.")
@click.option("--min-face-px", type=int, default=None, help="Smallest face to find, in frame pixels.")
@click.option(
    "--detect-width",
    type=int,
    default=None,
    help="Search frames shrunk to this width when the smallest face allows it.",
)
@click.option("--haar-scale-factor", type=float, default=None)
@click.option("--haar-min-neighbors", type=int, default=None)
@click.option("--jpeg-quality", type=click.IntRange(10, 100), default=None)
@click.option("--max-fps", type=float, default=None, help="Process at most this many frames per second.")
@click.option("--width", type=int, default=None, help="Largest frame width to work at.")
@click.option("--height", type=int, default=None, help="Largest frame height to work at.")
@click.option(
    "--reconnect-for",
    type=float,
    default=None,
    help="Seconds to keep reopening a dropped live source [default: for ever].",
)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="[default: $FACEWATCH_SPOOL_DIR or ~/.cache/facewatch/spool, per household-camera]",
)
@click.option("--spool-max-mb", type=int, default=DEFAULT_MAX_BYTES // (1024 * 1024), show_default=True)
@click.option(
    "--drain-timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="When the source ends, seconds to wait for the spool to drain.",
)
@click.option("--quiet", is_flag=True, help="No status line.")
def agent_command(
    source: str,
    household: str,
    camera: str,
    upload_interval: float,
    prefer_window: float,
    min_gap: float,
    scan_interval: float,
    idle_scan_interval: float,
    motion_threshold: int,
    no_motion_gate: bool,
    detector: str | None,
    yunet_model: str | None,
    min_face_px: int | None,
    detect_width: int | None,
    haar_scale_factor: float | None,
    haar_min_neighbors: int | None,
    jpeg_quality: int | None,
    max_fps: float | None,
    width: int | None,
    height: int | None,
    reconnect_for: float | None,
    spool_dir: Path | None,
    spool_max_mb: int,
    drain_timeout: float,
    quiet: bool,
) -> None:
    """Run the edge agent on SOURCE, uploading face frames to the configured bucket.

    Prints a status line while it runs, and a summary (the last line: JSON) when the source
    ends or on SIGINT/SIGTERM."""
    from facewatch.cli.agent_display import StatusLine, summary_table
    from facewatch.config import get_settings

    overrides = {
        "detector": detector,
        "yunet_model": yunet_model,
        "min_face_px": min_face_px,
        "detect_width": detect_width,
        "haar_scale_factor": haar_scale_factor,
        "haar_min_neighbors": haar_min_neighbors,
        "jpeg_quality": jpeg_quality,
    }
    base = get_settings()
    settings = base.model_validate(
        {**base.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    )
    options = EdgeOptions(
        scan_interval=scan_interval,
        idle_scan_interval=idle_scan_interval,
        motion_gate=not no_motion_gate,
        motion_threshold=motion_threshold,
        prefer_window=prefer_window,
        min_gap=min_gap,
    )
    capture = CaptureOptions(max_fps=max_fps, width=width, height=height, reconnect_for=reconnect_for)
    stop = threading.Event()
    _install_stop_handlers(stop)
    status = StatusLine(enabled=not quiet)
    try:
        with status:
            summary = run_agent(
                source,
                household=household,
                camera=camera,
                settings=settings,
                storage=Storage.from_settings(settings),
                upload_interval=upload_interval,
                stop=stop,
                on_frame=status.update,
                spool_dir=spool_dir,
                spool_max_bytes=spool_max_mb * 1024 * 1024,
                drain_timeout=drain_timeout,
                options=options,
                capture=capture,
            )
            status.update(summary, force=True)
    except FacewatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not quiet:
        status.console.print(summary_table(summary.as_dict()))
    click.echo(json.dumps(summary.as_dict()))
