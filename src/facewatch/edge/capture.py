"""Frame sources for the edge agent: a webcam (index or device path such as /dev/video0), a
video file, or an RTSP/HTTP stream URL, read through OpenCV's VideoCapture.

A file is read frame by frame, its clock the frame's position (index / fps), and ends at its
end. A camera or stream is live: its clock is this machine's, and when it drops (camera
rebooted, Wi-Fi gone, server restarted) it is reopened with backoff, for `reconnect_for`
seconds or forever. A source that never opens is a clear `SourceError`, not an agent that
quietly reads nothing. `max_fps` skips frames without converting them (`grab`), as do frames
the caller says it will not look at (`want`), and a frame
larger than `width`x`height` is shrunk to fit (a camera is asked for that size first)."""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from facewatch.exceptions import BadInput

log = logging.getLogger(__name__)

SourceKind = Literal["camera", "stream", "file"]
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@]*)@")
_VIDEO_DEVICE = re.compile(r"^/dev/video(\d+)$")


class SourceError(BadInput):
    """The video source cannot be opened (or reopened)."""


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    max_fps: float | None = None
    """Process at most this many frames per second of the source (None: all)."""
    width: int | None = None
    height: int | None = None
    """Largest frame size to work at: asked of a camera, enforced by shrinking otherwise."""
    open_timeout: float = 10.0
    read_timeout: float = 10.0
    """Seconds a stream may take to open, and to deliver a frame before it counts as dropped."""
    open_attempts: int = 3
    """Tries to open a live source at start before giving up with SourceError."""
    reconnect_for: float | None = None
    """Seconds to keep reopening a live source that dropped (None: for ever)."""
    first_backoff: float = 0.5
    max_backoff: float = 30.0


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray
    index: int
    """Position in the source: files count every frame, skipped ones included."""
    time: float
    """Seconds on the source's clock (a file's position; time since start when live)."""
    captured_at: datetime


def redact(source: str) -> str:
    """The source as it may be logged: a URL's password replaced."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2).split(':', 1)[0]}:***@", source)


def source_kind(source: str) -> SourceKind:
    """A webcam index or device path is a camera, a URL a stream, any other path a file."""
    if source.isdigit() or _is_device(source):
        return "camera"
    return "stream" if _URL.match(source) else "file"


def _is_device(source: str) -> bool:
    # Under /dev even while absent: an unplugged webcam is a camera to wait for, not a
    # missing file.
    if source.startswith("/dev/"):
        return True
    try:
        return stat.S_ISCHR(os.stat(source).st_mode)
    except (OSError, ValueError):
        return False


def _camera_index(source: str) -> int | None:
    """The index of a webcam named by index or V4L2 device path (/dev/video2, or a
    /dev/v4l/by-id/… link to it): OpenCV's V4L2 backend opens devices by index only."""
    if source.isdigit():
        return int(source)
    match = _VIDEO_DEVICE.fullmatch(os.path.realpath(source))
    return int(match.group(1)) if match else None


def open_capture(source: str, options: CaptureOptions) -> cv2.VideoCapture:
    """An opened VideoCapture, or SourceError (no retry here)."""
    kind = source_kind(source)
    if kind == "camera":
        index = _camera_index(source)
        capture = cv2.VideoCapture(source if index is None else index)
        if options.width and options.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
    elif kind == "stream":
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(options.open_timeout * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(options.read_timeout * 1000),
        ]
        capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
    else:
        if not Path(source).is_file():
            raise SourceError(f"video file {source!r} does not exist")
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        what = {"camera": "camera", "stream": "stream", "file": "video file"}[kind]
        raise SourceError(f"{what} {redact(source)!r} could not be opened")
    return capture


def fit(image: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """The image shrunk (never enlarged) to fit width x height, keeping its aspect."""
    h, w = image.shape[:2]
    scale = min((width or w) / w, (height or h) / h)
    if scale >= 1.0:
        return image
    return cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


Opener = Callable[[str, CaptureOptions], cv2.VideoCapture]


class FrameSource:
    """Iterate `frames()`; `reconnects` and `skipped` say how the source behaved."""

    def __init__(
        self,
        source: str,
        options: CaptureOptions = CaptureOptions(),
        *,
        opener: Opener = open_capture,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.options = options
        self.kind = source_kind(source)
        self._opener = opener
        self._clock = clock
        self._capture: cv2.VideoCapture | None = None
        self.live = self.kind != "file"
        self.fps = 0.0
        self.reconnects = 0
        self.skipped = 0
        """Frames dropped for `max_fps`."""
        self.passed = 0
        """Frames a `frames()` caller did not want."""
        self._stop = threading.Event()

    def open(self, stop: threading.Event | None = None) -> FrameSource:
        """Open the source; a live one gets `open_attempts` tries with backoff."""
        attempts = self.options.open_attempts if self.live else 1
        self._capture = self._open_with_retry(attempts, None, stop)
        if self._capture is None:
            raise SourceError(f"{self.kind} {redact(self.source)!r}: stopped before it opened")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 0.0
        if self.kind == "stream" and self._capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
            self.live = False  # a finite file served over HTTP: its end is the end
        return self

    def _open_with_retry(
        self, attempts: int | None, until: float | None, stop: threading.Event | None
    ) -> cv2.VideoCapture | None:
        backoff, tried = self.options.first_backoff, 0
        while True:
            tried += 1
            try:
                return self._opener(self.source, self.options)
            except SourceError as exc:
                out_of_tries = attempts is not None and tried >= attempts
                out_of_time = until is not None and self._clock() + backoff > until
                if out_of_tries or out_of_time:
                    if attempts is not None and attempts > 1:
                        raise SourceError(f"{exc} (tried {tried} times)") from exc
                    raise
                log.warning("%s; retrying in %.1fs", exc, backoff)
            if _wait(stop, backoff) or self._stop.is_set():
                return None
            backoff = min(backoff * 2, self.options.max_backoff)

    def close(self) -> None:
        self._stop.set()
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def frames(
        self,
        stop: threading.Event | None = None,
        on_drop: Callable[[], None] | None = None,
        want: Callable[[float], bool] | None = None,
    ) -> Iterator[Frame]:
        """The source's frames; `on_drop` is called when a live source drops, before the
        (possibly long) wait for it to come back. A frame whose time `want` refuses is
        decoded (the stream needs it) but neither converted nor yielded (`passed`)."""
        if self._capture is None:
            self.open(stop)
        started_wall, started = datetime.now(UTC), self._clock()
        fps = self.fps if 1.0 <= self.fps <= 1000.0 else 30.0
        min_step = 1.0 / self.options.max_fps if self.options.max_fps else 0.0
        index, last_emit = -1, None
        while not (stop is not None and stop.is_set()) and not self._stop.is_set():
            capture = self._capture
            if capture is None:
                return
            index += 1
            now = index / fps if not self.live else self._clock() - started
            too_soon = last_emit is not None and now - last_emit < min_step - 1e-6
            unwanted = not too_soon and want is not None and not want(now)
            if too_soon or unwanted:
                if capture.grab():  # decoded, not converted: the cheap way to skip a frame
                    self.skipped += too_soon
                    self.passed += unwanted
                    continue
                ok, image = False, None
            else:
                ok, image = capture.read()
            if not ok or image is None:
                if not self.live:
                    return
                if on_drop is not None:
                    on_drop()
                if not self._reconnect(stop):
                    return
                index -= 1
                continue
            last_emit = now
            at = datetime.now(UTC) if self.live else started_wall + timedelta(seconds=now)
            yield Frame(fit(image, self.options.width, self.options.height), index, now, at)

    def _reconnect(self, stop: threading.Event | None) -> bool:
        """Reopen a live source that stopped delivering frames; False when giving up."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        until = None if self.options.reconnect_for is None else self._clock() + self.options.reconnect_for
        log.warning("%s %s dropped; reconnecting", self.kind, redact(self.source))
        try:
            self._capture = self._open_with_retry(None, until, stop)
        except SourceError as exc:
            log.error("%s: giving up after %.0fs", exc, self.options.reconnect_for or 0)
            return False
        if self._capture is None:
            return False
        self.reconnects += 1
        log.warning("%s %s reconnected", self.kind, redact(self.source))
        return True


def _wait(stop: threading.Event | None, seconds: float) -> bool:
    """Sleep, waking early when `stop` is set; True if it was."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)
