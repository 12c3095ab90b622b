"""The one registry of facewatch's metrics: every figure an operator watches, its kind,
labels and unit, and the plain calls that record one. Where a figure is written is chosen
once per process (`use`): Prometheus in a long-running function, an embedded-metric-format
line per invocation on Lambda, nothing at all in the CLI and the tests that do not ask.
Recorded at the edges (web/observed.py) from the typed outcomes the core returns, so no
decision knows it is measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["counter", "histogram"]
Unit = Literal["Count", "Seconds"]

HOUSEHOLD = "household"
"""The label only an operator who asks for it gets (Settings.metrics_per_household): one
time series per household and value of every other label."""


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    """Prometheus's name without `facewatch_` and `_total`; EMF's metric name, with the
    values of its labels appended (`faces.stranger`)."""
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    unit: Unit = "Count"
    buckets: tuple[float, ...] = ()


LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
ENCODER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

FRAMES_RECEIVED = Figure("frames_received", "counter", "Frame uploads recognize was told of.", (HOUSEHOLD,))
FRAMES_JUDGED = Figure(
    "frames_judged", "counter", "Frames recognize judged and wrote a result for.", (HOUSEHOLD,)
)
FACES = Figure(
    "faces", "counter", "Faces judged, by verdict (known, stranger, unsure).", ("verdict", HOUSEHOLD)
)
VISITS = Figure("visits", "counter", "Strangers' visits opened (each alerts once at most).", (HOUSEHOLD,))
ALERTS = Figure(
    "alerts",
    "counter",
    "Alerts by channel (`none`: held back before any channel) and outcome (sent, already_sent, "
    "held_back, dead_lettered, queued, not_configured); `rule` names the rule that held it back.",
    ("channel", "outcome", "rule", HOUSEHOLD),
)
UPLOAD_TO_RESULT = Figure(
    "upload_to_result_seconds",
    "histogram",
    "From a frame's capture (upload) to its result written.",
    unit="Seconds",
    buckets=LATENCY_BUCKETS,
)
RESULT_TO_DELIVERED = Figure(
    "result_to_delivered_seconds",
    "histogram",
    "From a frame's verdict to notify's answer that its alert went out (frames that alerted).",
    unit="Seconds",
    buckets=LATENCY_BUCKETS,
)
ENCODER_SECONDS = Figure(
    "encoder_seconds_per_face",
    "histogram",
    "Judging time of a frame (fit, encode, compare) divided by its faces.",
    unit="Seconds",
    buckets=ENCODER_BUCKETS,
)
GALLERY_REBUILDS = Figure(
    "gallery_rebuilds", "counter", "Known-people encodings rebuilt after a photo changed.", (HOUSEHOLD,)
)
ERRORS = Figure(
    "errors",
    "counter",
    "Requests that failed, by function and kind (the error's class; InternalError: a bug).",
    ("function", "kind"),
)

FIGURES: tuple[Figure, ...] = (
    FRAMES_RECEIVED,
    FRAMES_JUDGED,
    FACES,
    VISITS,
    ALERTS,
    UPLOAD_TO_RESULT,
    RESULT_TO_DELIVERED,
    ENCODER_SECONDS,
    GALLERY_REBUILDS,
    ERRORS,
)


class Sink(Protocol):
    """Where recorded figures go: one per process."""

    def record(self, figure: Figure, value: float, labels: Mapping[str, str]) -> None: ...


class _Nowhere:
    def record(self, figure: Figure, value: float, labels: Mapping[str, str]) -> None:
        pass


_sink: Sink = _Nowhere()
_per_household = False


def use(sink: Sink, *, per_household: bool = False) -> None:
    """Send this process's figures to `sink`; per household only when the operator asked."""
    global _sink, _per_household
    _sink, _per_household = sink, per_household


def labels_for(figure: Figure, given: Mapping[str, str], per_household: bool) -> dict[str, str]:
    """Exactly the figure's labels (the household's left out unless asked for); a label
    the caller did not give is empty, one it gave that the figure lacks is a bug."""
    unknown = set(given) - set(figure.labels)
    if unknown:
        raise ValueError(f"{figure.name} has no label {sorted(unknown)}")
    return {n: given.get(n, "") for n in figure.labels if n != HOUSEHOLD or per_household}


def record(figure: Figure, value: float = 1.0, **labels: str) -> None:
    """Count `value` (a counter) or observe it (a histogram's seconds)."""
    _sink.record(figure, value, labels_for(figure, labels, _per_household))
