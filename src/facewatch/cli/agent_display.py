"""The edge agent's status line on a terminal (rich), and its closing summary."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text


class Counters(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def status_text(counts: dict[str, Any], fps: float) -> Text:
    line = Text()
    line.append(f"{counts.get('frames_read', 0):>7} frames ", style="bold")
    line.append(f"{fps:6.1f} fps  ")
    line.append(f"faces {counts.get('faces_seen', 0)}  tracks {counts.get('tracks', 0)}  ")
    line.append(f"uploaded {counts.get('frames_uploaded', 0)}", style="green")
    line.append(f"  spooled {counts.get('spooled', 0)}", style="yellow" if counts.get("spooled") else "")
    if counts.get("dropped"):
        line.append(f"  dropped {counts['dropped']}", style="red")
    if counts.get("reconnects"):
        line.append(f"  reconnects {counts['reconnects']}", style="yellow")
    return line


def summary_table(counts: dict[str, Any]) -> Table:
    table = Table(title="edge agent", show_header=False, box=None, padding=(0, 1))
    for name, value in counts.items():
        table.add_row(name.replace("_", " "), str(value))
    return table


class StatusLine:
    """A live one-line status, refreshed at most `hz` times a second; a no-op off a terminal."""

    def __init__(self, console: Console | None = None, hz: float = 4.0, *, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self._live = Live(console=self.console, auto_refresh=False, transient=False)
        self._every = 1.0 / hz
        self._last = 0.0
        self._started = time.monotonic()
        self._enabled = enabled and self.console.is_terminal
        self._saved_handlers: list[logging.Handler] = []

    def __enter__(self) -> StatusLine:
        if self._enabled:
            # Log lines go through rich while the line is live, so they print above it
            # instead of tearing it.
            root = logging.getLogger()
            self._saved_handlers = root.handlers[:]
            handler = RichHandler(console=self.console, show_path=False)
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root.handlers = [handler]
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._enabled:
            self._live.stop()
            logging.getLogger().handlers = self._saved_handlers

    def update(self, counts: Counters, *, force: bool = False) -> None:
        """Show the counts, unless the line was refreshed less than 1/hz ago (`force`: now)."""
        now = time.monotonic()
        if not self._enabled or (now - self._last < self._every and not force):
            return
        self._last = now
        values = counts.as_dict()
        fps = values.get("frames_read", 0) / max(1e-6, now - self._started)
        self._live.update(status_text(values, fps), refresh=True)
