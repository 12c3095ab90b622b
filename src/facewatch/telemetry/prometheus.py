"""The figures as Prometheus metrics, for a long-running function process (functions-
framework's gunicorn, compose, Kubernetes, `facewatch up`).

A process of several gunicorn workers (functions-framework's WORKERS) counts in each worker:
prometheus_client's multiprocess mode then keeps each worker's values in files under
PROMETHEUS_MULTIPROC_DIR and /metrics, whichever worker answers it, adds them all up. That
folder must be set before prometheus_client is first imported and be empty when the
process starts (whoever starts the process sees to both: `facewatch up` does, a container's
/tmp is new each start). Only counters and histograms are kept, which add up across
workers as they are: no gauge needs a live-or-dead mode."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from facewatch.telemetry.figures import FIGURES, HOUSEHOLD, Figure

PREFIX = "facewatch_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class PrometheusSink:
    """Every figure as a prometheus_client metric in a registry of this sink's own."""

    def __init__(self, *, per_household: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Counter | Histogram] = {}
        self._lock = threading.Lock()
        for figure in FIGURES:
            labels = [n for n in figure.labels if n != HOUSEHOLD or per_household]
            name = PREFIX + figure.name
            if figure.kind == "counter":
                self._metrics[figure.name] = Counter(name, figure.help, labels, registry=self.registry)
            else:
                self._metrics[figure.name] = Histogram(
                    name, figure.help, labels, buckets=figure.buckets, registry=self.registry
                )

    def record(self, figure: Figure, value: float, labels: Mapping[str, str]) -> None:
        metric = self._metrics[figure.name]
        target = metric.labels(**labels) if labels else metric
        if isinstance(target, Counter):
            target.inc(value)
        else:
            target.observe(value)

    def exposition(self) -> bytes:
        """The text /metrics answers: every worker's values added up under multiprocess
        mode, else this process's."""
        if os.environ.get(MULTIPROCESS_DIR):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
