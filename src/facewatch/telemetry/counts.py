"""The counters of several processes' /metrics as one small JSON object, for `facewatch up
--status`: the same figures an operator's Prometheus scrapes, added up over the functions,
by the labels that tell something (verdict, channel and outcome, error kind)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from facewatch.telemetry.figures import FIGURES, HOUSEHOLD
from facewatch.telemetry.prometheus import PREFIX


def counts(expositions: Iterable[str]) -> dict[str, Any]:
    """Each counter's total, or its totals by its labels' values joined by spaces (a
    histogram: how many it observed). The household's label is added up over."""
    out: dict[str, Any] = {}
    kinds = {f.name: f for f in FIGURES}
    for text in expositions:
        for family in text_string_to_metric_families(text):
            name = family.name.removeprefix(PREFIX)
            figure = kinds.get(name) or kinds.get(name.removesuffix("_total"))
            if figure is None:
                continue
            wanted = "_count" if figure.kind == "histogram" else "_total"
            for sample in family.samples:
                if not sample.name.endswith(wanted):
                    continue
                parts = [v for k, v in sample.labels.items() if k != HOUSEHOLD and v]
                value = int(sample.value)
                if not parts:
                    out[figure.name] = out.get(figure.name, 0) + value
                else:
                    by = out.setdefault(figure.name, {})
                    by[" ".join(parts)] = by.get(" ".join(parts), 0) + value
    return out
