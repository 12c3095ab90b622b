"""Fixtures the integration modules share (helpers they share live in *_harness.py modules
beside them; no test module imports from another)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.up_harness import Up


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Up]]:
    """Every `facewatch up` a test starts, killed with its process group if still up."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.proc.poll() is None:
            with contextlib.suppress(Exception):
                up.stop()
        if up.proc.poll() is None:
            up.proc.kill()
