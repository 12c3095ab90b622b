"""Trying a send again: how often, how long to pause, and whether one more attempt still
fits the time left. Plain functions of the clock and the error; the sends are passed in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from facewatch.exceptions import (
    AlertError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    first_pause: float = 1.0
    """Pauses double: 1 + 2 + 4 s rides out a mail server restart within one invocation,
    as long as the attempts fail fast; slow failures are cut short by the time budget."""


def _retryable(exc: AlertError) -> bool:
    return bool(getattr(exc, "retryable", True))


def another_try_fits(pause: float, *, now: float, deadline: float, attempt_seconds: float) -> bool:
    """Whether a pause and then one more attempt, as long as the channel's timeout allows,
    ends by the deadline."""
    return now + pause + attempt_seconds <= deadline


def send_with_retries(
    send: Callable[[], str],
    policy: RetryPolicy,
    pause: Callable[[float], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    deadline: float = float("inf"),
    attempt_seconds: float = 0.0,
) -> str:
    delay = policy.first_pause
    for attempt in range(1, policy.attempts + 1):
        try:
            return send()
        except AlertError as exc:
            if not _retryable(exc) or attempt == policy.attempts:
                raise
            if not another_try_fits(delay, now=clock(), deadline=deadline, attempt_seconds=attempt_seconds):
                log.warning("send failed (attempt %d), no time left to try again: %s", attempt, exc)
                raise
            log.warning(
                "send failed (attempt %d of %d), retrying in %.0fs: %s", attempt, policy.attempts, delay, exc
            )
            pause(delay)
            delay *= 2
    raise AssertionError("unreachable")
