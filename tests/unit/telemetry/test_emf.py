"""The Lambda functions' figures as CloudWatch's embedded metric format: each line must be a
document CloudWatch Logs extracts metrics from, checked here against the specification's
rules (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html)."""

import io
import json
from contextlib import redirect_stdout

import pytest

from facewatch.config import get_settings
from facewatch.telemetry import figures
from facewatch.telemetry.emf import MAX_VALUES, EmfSink

UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def check_emf(line: str) -> dict:
    """The specification's MUSTs for one log event; the document when it meets them all."""
    document = json.loads(line)
    assert isinstance(document, dict)
    meta = document["_aws"]
    assert set(meta) <= {"Timestamp", "CloudWatchMetrics"}
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000
    assert isinstance(meta["CloudWatchMetrics"], list)
    for directive in meta["CloudWatchMetrics"]:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 1024
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(document[name], str) and 1 <= len(document[name]) <= 1024
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}
            assert 1 <= len(metric["Name"]) <= 1024
            assert metric.get("Unit", "None") in UNITS
            value = document[metric["Name"]]
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= MAX_VALUES
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return document


@pytest.fixture
def sink():
    sink = EmfSink("recognize")
    figures.use(sink)
    yield sink
    figures.use(figures._Nowhere())


def test_one_invocation_is_one_line_cloudwatch_reads(sink):
    figures.record(figures.FRAMES_RECEIVED, household="home")
    figures.record(figures.FRAMES_RECEIVED, household="home")
    figures.record(figures.FACES, verdict="stranger", household="home")
    figures.record(figures.ALERTS, channel="email", outcome="sent", rule="", household="home")
    for seconds in (1.5, 2.5):
        figures.record(figures.UPLOAD_TO_RESULT, seconds)
    document = check_emf(sink.flush())
    assert document["function"] == "recognize"
    assert document["frames_received"] == 2
    assert document["faces.stranger"] == 1
    assert document["alerts.email.sent.none"] == 1
    assert document["upload_to_result_seconds"] == [1.5, 2.5]
    units = {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["upload_to_result_seconds"] == "Seconds" and units["frames_received"] == "Count"
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function"]]
    assert "household" not in document  # not asked for: no per-household series
    assert sink.flush() is None  # the next invocation starts afresh


def test_the_household_is_a_dimension_only_when_asked_for(sink):
    figures.use(sink, per_household=True)
    figures.record(figures.FRAMES_JUDGED, household="home")
    document = check_emf(sink.flush())
    assert document["household"] == "home"
    assert ["function", "household"] in document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_a_histogram_keeps_at_most_the_values_one_document_may_hold(sink):
    for i in range(MAX_VALUES + 20):
        figures.record(figures.ENCODER_SECONDS, i / 1000)
    assert len(check_emf(sink.flush())["encoder_seconds_per_face"]) == MAX_VALUES


def test_a_label_a_figure_does_not_have_is_refused():
    with pytest.raises(ValueError, match="no label"):
        figures.labels_for(figures.FRAMES_RECEIVED, {"camera": "door"}, per_household=False)


def test_every_figure_has_a_unit_cloudwatch_knows():
    assert {f.unit for f in figures.FIGURES} <= UNITS


def test_a_lambda_handler_writes_one_line_per_invocation_even_when_it_fails(monkeypatch):
    from facewatch.web import observed

    get_settings.cache_clear()
    monkeypatch.setattr(observed, "_sinks", {})

    @observed.on_lambda("notify")
    def handler(event, context):
        figures.record(figures.FRAMES_RECEIVED, household="home")
        if event.get("fail"):
            raise RuntimeError("retry me")
        return {"ok": True}

    out = io.StringIO()
    with redirect_stdout(out):
        handler({}, None)
        with pytest.raises(RuntimeError):
            handler({"fail": True}, None)
    lines = out.getvalue().splitlines()
    assert [check_emf(line)["frames_received"] for line in lines] == [1, 1]
    figures.use(figures._Nowhere())
