"""`facewatch agent`: the edge agent's options, its signals and its terminal display."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.edge.agent import run_agent
from facewatch.edge.capture import CaptureOptions
from facewatch.edge.motion import MotionParams
from facewatch.edge.pipeline import EdgeOptions
from facewatch.edge.spool import DEFAULT_MAX_BYTES, SpoolOptions
from facewatch.edge.tracking import UploadPolicy
from facewatch.exceptions import FacewatchError
from facewatch.faces.detectors import DETECTOR_NAMES
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

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
    type=click.Choice(DETECTOR_NAMES),
    default=None,
    help="Face detector [default: FACEWATCH_DETECTOR or centerface].",
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
@click.option(
    "--mqtt-url",
    default=None,
    help="Broker to keep the camera's availability on for Home Assistant, online while this "
    "runs, offline (a last will) when it dies [default: FACEWATCH_MQTT_URL; none: not published].",
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
    mqtt_url: str | None,
    quiet: bool,
) -> None:
    """Run the edge agent on SOURCE, uploading face frames to the configured bucket.

    Prints a status line while it runs, and a summary (the last line: JSON) when the source
    ends or on SIGINT/SIGTERM."""
    from facewatch.alerts.availability import camera_availability
    from facewatch.cli.agent_display import StatusLine, summary_table

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
        upload=UploadPolicy(interval=upload_interval, prefer_window=prefer_window, min_gap=min_gap),
        spool=SpoolOptions(
            directory=spool_dir, max_bytes=spool_max_mb * 1024 * 1024, drain_timeout=drain_timeout
        ),
    )
    capture = CaptureOptions(max_fps=max_fps, width=width, height=height, reconnect_for=reconnect_for)
    stop = threading.Event()
    _install_stop_handlers(stop)
    status = StatusLine(enabled=not quiet)
    try:
        with camera_availability(settings, household, camera, mqtt_url=mqtt_url), status:
            summary = run_agent(
                source,
                household=household,
                camera=camera,
                settings=settings,
                storage=Storage.from_settings(settings),
                options=options,
                capture=capture,
                stop=stop,
                on_frame=status.update,
            )
            status.update(summary, force=True)
    except FacewatchError as exc:
        fail(exc)
    if not quiet:
        status.console.print(summary_table(summary.as_dict()))
    click.echo(json.dumps(summary.as_dict()))
