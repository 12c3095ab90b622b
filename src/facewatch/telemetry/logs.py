"""facewatch's log lines: text as before, or JSON lines (Settings.log_format) that carry the
request id of the frame they are about, so one frame can be followed from its upload
through detect, recognize and notify to its alert.

The request id is the frame's key: detect stores the frame under it, recognize's event names
it, and notify's alert carries it (Alert.frame_key), so it needs no header passed between
the functions and is the same on every path a frame takes (the edge agent's upload, the
sweep, a redelivery). No log line carries a secret or a face: what is logged is messages
the code writes, never a request body, encoding or image, and tests/integration/
test_observability.py scans a whole run's logs for them."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

_request_id: ContextVar[str | None] = ContextVar("facewatch_request_id", default=None)


@contextlib.contextmanager
def request_id(value: str | None) -> Iterator[None]:
    """Log lines written inside carry `value` as their request id."""
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


def set_request_id(value: str | None) -> None:
    """From here to the end of this request (each request runs in a context of its own)."""
    _request_id.set(value)


def current_request_id() -> str | None:
    return _request_id.get()


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, function, and the
    exception's class and traceback when there is one."""

    def __init__(self, function: str | None = None) -> None:
        super().__init__()
        self.function = function

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.function:
            line["function"] = self.function
        found = _request_id.get()
        if found:
            line["request_id"] = found
        if record.exc_info:
            line["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _WithRequestId(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        found = _request_id.get()
        return f"{text} [{found}]" if found else text


def configure_logging(form: LogFormat, function: str | None = None, level: int = logging.INFO) -> None:
    """The process's root handler (stderr): JSON lines, or text with the request id at the
    end. Replaces the handlers found, so a line is never written twice."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLines(function)
        if form == "json"
        else _WithRequestId("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
