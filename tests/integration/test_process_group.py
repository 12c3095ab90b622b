"""A function process is a gunicorn master and its worker, which shares the listening
socket. When the master is killed (kill -9, the OOM killer), the worker lives on for a while:
it keeps answering on the port and keeps the next start from binding it. Stopping the dead
process must end what it left behind, so a supervisor's restart gets the port at once."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import requests

from facewatch.local.stack import Process, free_port

HELLO = """
import os

def hello(request):
    return str(os.getpid())
"""


def _function(tmp_path: Path, port: int) -> Process:
    source = tmp_path / "main.py"
    source.write_text(HELLO)
    ff = Path(sys.executable).with_name("functions-framework")
    argv = [str(ff), "--target=hello", f"--source={source}", "--host=127.0.0.1", f"--port={port}"]
    return Process("hello", argv, dict(os.environ), tmp_path / "hello.log", f"http://127.0.0.1:{port}/")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever reaps for pid 1)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_masters_worker_is_ended_by_stop_and_the_restart_gets_the_port(tmp_path: Path):
    port = free_port()
    process = _function(tmp_path, port)
    process.start()
    try:
        worker = int(requests.get(f"http://127.0.0.1:{port}/", timeout=5).text)
        assert worker != process.pid()  # gunicorn answers from a worker, not the master
        master = process.pid()
        assert master is not None
        os.kill(master, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process.exit_code() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.exit_code() == -signal.SIGKILL
        # The orphaned worker still serves: the control that shows what stop() is for.
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == str(worker)
        assert not _bindable(port)

        process.stop()
        assert not _running(worker)
        assert _bindable(port)

        process.start()
        assert int(requests.get(f"http://127.0.0.1:{port}/", timeout=5).text) != worker
    finally:
        process.stop()
    assert _bindable(port)
