"""infra/grafana's dashboard and infra/k8s/monitoring's PodMonitor ask only for what the
functions export (telemetry/figures.py), and scrape every function."""

import json
import re

from facewatch.telemetry.figures import FIGURES
from tests.infra.helpers import FUNCTIONS, INFRA, load_yaml_documents

EXPORTED = {
    f"facewatch_{f.name}{suffix}"
    for f in FIGURES
    for suffix in (("_total",) if f.kind == "counter" else ("_bucket", "_sum", "_count"))
}


def test_every_dashboard_query_names_an_exported_metric():
    dashboard = json.loads((INFRA / "grafana" / "facewatch.json").read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"facewatch_[a-z_]+", target["expr"])
    }
    assert asked and asked <= EXPORTED, asked - EXPORTED
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_pod_monitor_scrapes_every_function_with_the_metrics_token():
    (monitor,) = load_yaml_documents(INFRA / "k8s" / "monitoring" / "podmonitor.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "PodMonitor"
    (selector,) = monitor["spec"]["selector"]["matchExpressions"]
    assert set(selector["values"]) == set(FUNCTIONS)
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["type"] == "Bearer"
