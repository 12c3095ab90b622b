"""The reliability suite's figures: each test adds what it tried and what went wrong, and
the session writes them to test-artifacts/reliability.json (`make reliability` prints them
as its last line). `make test` runs the same tests at a smaller scale; set
FACEWATCH_RELIABILITY_FULL=1 for the full one."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

FULL = os.environ.get("FACEWATCH_RELIABILITY_FULL") == "1"
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability.json"
FIGURES: Counter[str] = Counter()
GAUGES: dict[str, float] = {}

ZERO_GOALS = ("bad_inputs_crashed", "frames_lost", "duplicate_alerts", "auth_bypasses")


def scale(small: int, full: int) -> int:
    return full if FULL else small


@pytest.fixture(scope="session")
def figures() -> Iterator[Counter[str]]:
    yield FIGURES


@pytest.fixture(scope="session")
def gauges() -> Iterator[dict[str, float]]:
    yield GAUGES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not FIGURES and not GAUGES:
        return
    out = {k: FIGURES.get(k, 0) for k in ("bad_inputs_tried", *ZERO_GOALS, "faults_injected")}
    out.update(FIGURES)
    out.update(GAUGES)
    out["scale"] = "full" if FULL else "fast"
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(out, sort_keys=True))
