"""Waiting for what another process does: ask for the condition until a deadline, never sleep
a guessed time. A fixed sleep is too short on a loaded machine (the test fails for nothing)
and too long on an idle one; a deadline is only reached when something is wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def poll(check: Callable[[], T], timeout: float, *, every: float = 0.2) -> T:
    """`check()`'s first true value, asked every `every` seconds; its last (false) value
    once `timeout` seconds passed, for a caller whose own check says what is missing."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def wait_until(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    *,
    every: float = 0.2,
    context: Callable[[], str] = lambda: "",
) -> T:
    """`check()`'s first true value, asked every `every` seconds; the test fails when none
    came within `timeout` seconds, naming `what` and adding `context()` (a log's tail)."""
    value = poll(check, timeout, every=every)
    if not value:
        pytest.fail(f"{what}: not within {timeout:.0f}s\n{context()}")
    return value
