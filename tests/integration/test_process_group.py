"""A function process is a gunicorn master and its worker, which shares the listening
socket. When the master is killed (kill -9, the OOM killer), the worker lives on for a while:
it keeps answering on the port and keeps the next start from binding it. Stopping the dead
process must end what it left behind, so a supervisor's restart gets the port at once."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from facewatch.local.processes import Process, free_port, is_running
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

HELLO = """
import os
import pathlib
import time

def hello(request):
    if request.args.get("busy"):  # a request in flight, as notify has while it sends
        pathlib.Path(request.args["busy"]).touch()
        time.sleep(20)
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


def test_a_killed_masters_worker_is_ended_by_stop_and_the_restart_gets_the_port(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = _function(tmp_path, port)
    process.start()
    try:
        worker = int(requests.get(url, timeout=5).text)
        assert worker != process.pid()  # gunicorn answers from a worker, not the master
        started = tmp_path / "busy"
        busy = threading.Thread(target=_get_quietly, args=(f"{url}?busy={started}",), daemon=True)
        busy.start()
        _until(started.exists, "the busy request reached the worker")
        master = process.pid()
        assert master is not None
        os.kill(master, signal.SIGKILL)
        _until(lambda: process.exit_code() is not None, "the master died")
        assert process.exit_code() == -signal.SIGKILL
        # The worker notices within a second that its master is gone, then finishes what it
        # is serving (gunicorn's graceful timeout, 30 s) with its listening socket open: the
        # control that shows what stop() is for.
        time.sleep(2)
        assert is_running(worker) and not _bindable(port)

        process.stop()
        assert not is_running(worker)
        assert _bindable(port)

        process.start()
        assert int(requests.get(url, timeout=5).text) != worker
    finally:
        process.stop()
    assert _bindable(port)


def _get_quietly(url: str) -> None:
    with contextlib.suppress(requests.RequestException):  # cut off when its worker is killed
        requests.get(url, timeout=60)


def _until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    wait_until(what, check, timeout, every=0.05)
