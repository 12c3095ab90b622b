"""Real RTSP camera for tests: runs ``tests/rtsp_server.py`` under Debian's python.

Importable from the project venv (no ``gi`` import here)::

    cam = RtspCamera("clip.mp4").start()   # free port picked by the server
    cv2.VideoCapture(cam.url, cv2.CAP_FFMPEG)
    cam.kill()                             # camera "dies" (SIGKILL)
    cam.start()                            # comes back on the same port
    cam.stop()

``start()`` returns only once an RTSP DESCRIBE on the port answers
``200 OK`` with an SDP that has a video track, i.e. the media pipeline
(decoder, x264enc, payloader) really works.

Needs Debian packages: python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-base, -good, -bad (openh264dec, intervideo*),
-ugly (x264enc).  The server offers RTP over TCP only, so set
``OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp`` (see ``FFMPEG_ENV``)
or let ffmpeg fall back after the server's ``461 Unsupported transport``.
"""

from __future__ import annotations

import functools
import os
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.server_process import ServerProcess, ServerStartError

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
DEFAULT_VIDEO = HERE.parent / "testdata" / "video" / "short_hamilton_clip.mp4"
#: Environment for OpenCV's FFmpeg backend: interleaved RTP over the RTSP socket.
FFMPEG_ENV = {"OPENCV_FFMPEG_CAPTURE_OPTIONS": "rtsp_transport;tcp"}


class RtspCameraError(ServerStartError):
    """The RTSP server did not come up."""


def rtsp_request(host: str, port: int, method: str, url: str, timeout: float = 2.0) -> tuple[int, str]:
    """Send one RTSP request; return (status code, body). Raises OSError."""
    extra = "Accept: application/sdp\r\n" if method == "DESCRIBE" else ""
    request = f"{method} {url} RTSP/1.0\r\nCSeq: 1\r\n{extra}User-Agent: facewatch-test\r\n\r\n"
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request.encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("RTSP/"):
            raise OSError(f"not an RTSP reply: {lines[0]!r}")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
        return int(parts[1]), body.decode("utf-8", "replace")


class RtspCamera(ServerProcess):
    """A looping, live H.264 RTSP camera on 127.0.0.1 serving ``file``."""

    name = "rtsp_server.py"
    error = RtspCameraError

    def __init__(
        self,
        file: str | os.PathLike[str] = DEFAULT_VIDEO,
        port: int | None = None,
        path: str = "/cam",
        *,
        startup_timeout: float = 20.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, prefix="rtsp-camera-")
        self.file = Path(file)
        self.port = port  # None: the first start() lets the server pick a free one
        self.path = path if path.startswith("/") else "/" + path
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("camera has no port yet: call start() first")
        return f"rtsp://{HOST}:{self.port}{self.path}"

    # -- internals ----------------------------------------------------------
    def _spawn(self) -> subprocess.Popen[str]:
        cmd = [
            SYSTEM_PYTHON,
            str(SERVER_SCRIPT),
            "--file",
            str(self.file),
            "--port",
            str(self.port or 0),
            "--path",
            self.path,
            "--exit-on-stdin-eof",  # we hold the pipe; if this process dies, so does the server
            *self.extra_args,
        ]
        with open(self.log_path, "a") as log:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,  # no SIGINT from the test's terminal
            )

    def _wait_ready(self, proc: subprocess.Popen[str], deadline: float) -> str | None:
        """None once the server said READY (its port, when it picked one) and a DESCRIBE
        answers with a video track, i.e. the media pipeline (decoder, x264enc, payloader)
        really works."""
        ready = self._wait_ready_line(proc, deadline)
        if ready is None:
            return "no READY line"
        self.port = int(ready.rsplit(":", 1)[1].split("/", 1)[0])
        return self._wait_describe(deadline)

    def _worth_retrying(self, log: str) -> bool:
        # Only a port of its own that is still busy right after a kill.
        return self.port is not None and "cannot listen" in log

    @staticmethod
    def _wait_ready_line(proc: subprocess.Popen[str], deadline: float) -> str | None:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    break
                line = proc.stdout.readline()
                if not line:  # EOF: the process exited
                    return None
                if line.startswith("READY "):
                    return line.split(None, 1)[1].strip()
        return None

    def _wait_describe(self, deadline: float) -> str | None:
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.running:
                return "died"
            try:
                status, sdp = rtsp_request(HOST, self.port or 0, "DESCRIBE", self.url)
                if status == 200 and "m=video" in sdp:
                    return None
                last = f"DESCRIBE -> {status}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.02)
        return f"{self.url} not ready ({last})"


@functools.cache
def gst_rtsp_available() -> bool:
    """True if Debian's python can import GstRtspServer and find x264enc."""
    code = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
        "('x264enc','intervideosrc','rtph264pay','decodebin')) else 1)"
    )
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_gst_rtsp() -> None:
    """Skip without Debian's GStreamer RTSP server (installed by `make test` when root), or
    fail when CI is set, as tests/mqtt_broker.py does for Mosquitto."""
    missing = None
    if not DEFAULT_VIDEO.is_file():
        missing = f"test video missing: {DEFAULT_VIDEO}"
    elif not gst_rtsp_available():
        missing = (
            "GStreamer RTSP server unavailable: apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 "
            "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad "
            "gstreamer1.0-plugins-ugly"
        )
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture
def rtsp_camera() -> Iterator[RtspCamera]:
    """A running RtspCamera on a free port, serving DEFAULT_VIDEO; stopped afterwards."""
    require_gst_rtsp()
    camera = RtspCamera(DEFAULT_VIDEO)
    try:
        camera.start()
        yield camera
    finally:
        camera.close()
