"""An IP camera's MJPEG stream over real HTTP (a server in a thread of the test), for the
tests of frame sources and of the agent."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

JPEG = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()


class MjpegCamera:
    """An IP camera's MJPEG endpoint: each connection streams `frames_per_connection` frames
    and then drops, the way a camera on flaky Wi-Fi does; `down` refuses connections."""

    def __init__(self, frames_per_connection: int, jpeg: bytes = JPEG, interval: float = 0.01) -> None:
        camera = self
        self.connections = 0
        self.down = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if camera.down.is_set():
                    self.send_error(503)
                    return
                camera.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for _ in range(frames_per_connection):
                    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    try:
                        self.wfile.write(part + jpeg + b"\r\n")
                    except OSError:
                        return  # the client went away
                    time.sleep(interval)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mjpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
