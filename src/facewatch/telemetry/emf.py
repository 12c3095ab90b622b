"""The figures as CloudWatch's embedded metric format, for Lambda: what one invocation
recorded, written as one JSON line to stdout when it ends, which CloudWatch Logs turns into
metrics (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html).

Written directly, not through Powertools' Metrics: the line is a few dozen lines of JSON,
and Powertools would be imported by every cold start for it (docs/operators.md has the
measurement). One line of a document holds one value per dimension, so a label's value is
part of the metric's name (`faces.stranger`, `alerts.email.sent`), and the dimensions are
the function and, when the operator asked for it and the invocation served one household,
the household. A histogram's observations are the metric's array of values (at most 100
a metric, as the format allows); CloudWatch keeps their statistics, not Prometheus's buckets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from facewatch.telemetry.figures import HOUSEHOLD, Figure

NAMESPACE = "facewatch"
MAX_VALUES = 100
"""Values of one metric in one document (the format's limit)."""
MAX_METRICS = 100
"""Metric definitions in one directive (the format's limit)."""


def metric_name(figure: Figure, labels: Mapping[str, str]) -> str:
    values = [labels[n] or "none" for n in figure.labels if n != HOUSEHOLD and n in labels]
    return ".".join([figure.name, *values])


class EmfSink:
    """What the current invocation recorded (Lambda runs one at a time per instance)."""

    def __init__(self, function: str, *, namespace: str = NAMESPACE) -> None:
        self.function = function
        self.namespace = namespace
        self._lock = threading.Lock()
        self._values: dict[str, list[float]] = {}
        self._units: dict[str, str] = {}
        self._households: set[str] = set()

    def record(self, figure: Figure, value: float, labels: Mapping[str, str]) -> None:
        name = metric_name(figure, labels)
        with self._lock:
            if labels.get(HOUSEHOLD):
                self._households.add(labels[HOUSEHOLD])
            self._units[name] = figure.unit
            values = self._values.setdefault(name, [])
            if figure.kind == "counter":
                values[:] = [(values[0] if values else 0.0) + value]
            elif len(values) < MAX_VALUES:
                values.append(value)

    def flush(self, now_ms: int | None = None) -> str | None:
        """The invocation's one EMF line (None when it recorded nothing); starts afresh."""
        with self._lock:
            values, units, households = self._values, self._units, self._households
            self._values, self._units, self._households = {}, {}, set()
        if not values:
            return None
        return json.dumps(emf_document(self.namespace, self.function, values, units, households, now_ms))


def emf_document(
    namespace: str,
    function: str,
    values: Mapping[str, list[float]],
    units: Mapping[str, str],
    households: set[str],
    now_ms: int | None = None,
) -> dict[str, Any]:
    names = sorted(values)[:MAX_METRICS]
    dimensions = [["function"]]
    root: dict[str, Any] = {"function": function}
    if len(households) == 1:
        dimensions.append(["function", HOUSEHOLD])
        root[HOUSEHOLD] = next(iter(households))
    for name in names:
        found = values[name]
        root[name] = found[0] if len(found) == 1 else list(found)
    root["_aws"] = {
        "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": [{"Name": n, "Unit": units[n]} for n in names],
            }
        ],
    }
    return root
