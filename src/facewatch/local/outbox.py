"""The local mail catcher: a real SMTP server (aiosmtpd) that writes every message it
receives into a directory as a .eml file, for the demo and the tests.

    python -m facewatch.local.outbox --dir outbox [--host 127.0.0.1] [--port 1025]
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _WriteEml:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            n = next(self._counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        final = self.directory / f"{stamp}-{n:04d}.eml"
        # Write then rename: a reader never sees half a message.
        temp = final.with_suffix(".part")
        temp.write_bytes(head + envelope.original_content)
        os.replace(temp, final)
        return "250 Message accepted for delivery"


class OutboxServer:
    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> OutboxServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = _free_port(self.host)
        self._controller = Controller(_WriteEml(self.directory), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def __enter__(self) -> OutboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP server that writes each message as a .eml file")
    parser.add_argument("--dir", type=Path, default=Path("outbox"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args(argv)
    server = OutboxServer(args.dir, args.host, args.port).start()
    print(f"outbox: SMTP on {args.host}:{server.port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
