"""What a function measures and logs about each request, at its edge: the one decorator
each entry point wears (`http` for functions-framework, `on_lambda` for a Lambda handler),
/metrics, and the figures read from the typed outcomes recognize and notify return.

/metrics is answered by every long-running function process on its own port, before the
function sees the request. It is not for the LAN: with Settings.metrics_token set it asks
for that bearer token; without, it answers only a request made to the process directly
from 127.0.0.1 (or ::1), and never one a proxy passed on (X-Forwarded-For, Forwarded,
X-Real-IP), so a door that forwards the console to the LAN does not forward its metrics."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from facewatch.config import get_settings
from facewatch.layout import household_of
from facewatch.records import Alert, AlertOutcome, Delivery, DeliveryStatus, HeldBackBy
from facewatch.telemetry import figures
from facewatch.telemetry.figures import record
from facewatch.telemetry.logs import configure_logging, set_request_id
from facewatch.web.transport import Reply, Unauthorized, require_bearer

if TYPE_CHECKING:
    from facewatch.recognize.recognizer import Outcome
    from facewatch.telemetry.emf import EmfSink
    from facewatch.telemetry.prometheus import PrometheusSink

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
LOOPBACK = ("127.0.0.1", "::1")

F = TypeVar("F", bound=Callable[..., Any])

_sinks: dict[str, Any] = {}


def _setup_logs(function: str) -> None:
    if get_settings().log_format == "json":
        configure_logging("json", function)


def prometheus() -> PrometheusSink:
    """This process's Prometheus metrics, made and put to use at the first request (after
    gunicorn forked its workers, each with PROMETHEUS_MULTIPROC_DIR already set)."""
    found = _sinks.get("prometheus")
    if found is None:
        from facewatch.telemetry.prometheus import PrometheusSink

        found = _sinks["prometheus"] = PrometheusSink(per_household=get_settings().metrics_per_household)
        figures.use(found, per_household=get_settings().metrics_per_household)
    return found


def emf(function: str) -> EmfSink:
    found = _sinks.get("emf")
    if found is None:
        from facewatch.telemetry.emf import EmfSink

        found = _sinks["emf"] = EmfSink(function)
        figures.use(found, per_household=get_settings().metrics_per_household)
    return found


def http(function: str) -> Callable[[F], F]:
    """For a functions-framework target: /metrics answered here, every other request handed
    on with a request id of its own (none until it names a frame)."""
    _setup_logs(function)

    def wrap(handle: F) -> F:
        @functools.wraps(handle)
        def observed(request: Any) -> Any:
            sink = prometheus()
            if request.path == METRICS_PATH and request.method in ("GET", "HEAD"):
                return _flask(metrics_reply(sink.exposition, dict(request.headers), request.remote_addr))
            set_request_id(None)
            return handle(request)

        return observed  # type: ignore[return-value]

    return wrap


def on_lambda(function: str) -> Callable[[F], F]:
    """For a Lambda handler: the invocation's figures as one EMF line on stdout, whatever
    its end (CloudWatch Logs reads it from the function's log)."""
    _setup_logs(function)

    def wrap(handle: F) -> F:
        @functools.wraps(handle)
        def observed(event: Any, context: Any) -> Any:
            sink = emf(function)
            set_request_id(None)
            try:
                return handle(event, context)
            finally:
                line = sink.flush()
                if line is not None:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()

        return observed  # type: ignore[return-value]

    return wrap


def metrics_reply(exposition: Callable[[], bytes], headers: Mapping[str, str], remote: str | None) -> Reply:
    """/metrics for whoever may read it (module docstring); 401/403 for anyone else."""
    from facewatch.telemetry.prometheus import CONTENT_TYPE

    token = get_settings().metrics_token
    try:
        if token is not None:
            require_bearer(headers, token)
        elif remote not in LOOPBACK or any(h.lower() in PROXY_HEADERS for h in headers):
            return Reply(
                403,
                {
                    "error": "Forbidden",
                    "message": "/metrics answers 127.0.0.1 only unless FACEWATCH_METRICS_TOKEN is set",
                },
            )
    except Unauthorized as exc:
        return Reply(401, {"error": "Unauthorized", "message": str(exc)})
    return Reply(200, exposition(), {"Content-Type": CONTENT_TYPE})


def _flask(reply: Reply) -> Any:
    from facewatch.web.transport import flask_response

    return flask_response(reply)


# --- the figures, read from what the core returned ------------------------------------------


def held_back_rule(by: HeldBackBy | None) -> str:
    """The metrics label of the rule that held an alert back (records.HeldBackBy, a bounded
    set): `other` for an outcome that names none (results written before it did)."""
    return "other" if by is None else by.value


NOT_A_NEW_ALERT = frozenset({HeldBackBy.OPEN_VISIT, HeldBackBy.DISARMED_VISIT, HeldBackBy.KNOWN_TRACK})
"""Rules that hold back a face that was never a visit's alert: a later frame of a visit,
or a known person's edge track."""


def _outcome_label(status: DeliveryStatus) -> str:
    return status.name.lower()


def recognized(outcome: Outcome, now: datetime | None = None) -> None:
    """What recognize did with one storage event."""
    now = now or datetime.now(UTC)
    if outcome.action == "gallery-rebuilt":
        record(figures.GALLERY_REBUILDS, household=household_of(outcome.key))
        return
    if outcome.action not in ("judged", "duplicate", "bad-frame"):
        return
    household = household_of(outcome.key)
    record(figures.FRAMES_RECEIVED, household=household)
    result = outcome.result
    if result is None:
        return
    record(figures.FRAMES_JUDGED, household=household)
    record(figures.UPLOAD_TO_RESULT, max(0.0, (now - result.captured_at).total_seconds()))
    if result.faces and outcome.judging_seconds is not None:
        record(figures.ENCODER_SECONDS, outcome.judging_seconds / len(result.faces))
    for face in result.faces:
        record(figures.FACES, verdict=face.verdict, household=household)
        if face.alert is not None and face.alert.kind == "stranger":
            _recognize_alert(face.alert, household, new_visit=face.visit_id is not None)
    if any(f.alert is not None and f.alert.status is DeliveryStatus.SENT for f in result.faces):
        record(figures.RESULT_TO_DELIVERED, max(0.0, (now - result.processed_at).total_seconds()))


def _recognize_alert(alert: AlertOutcome, household: str, *, new_visit: bool) -> None:
    """A stranger face's alert: a face of a visit already open is no alert at all; a new
    visit is handed to notify (which counts each channel's outcome) or held back by a
    household's rule (counted here, channel `none`)."""
    if alert.status is not DeliveryStatus.HELD_BACK:
        record(figures.VISITS, household=household)
        return
    if alert.held_back_by in NOT_A_NEW_ALERT:
        return
    rule = held_back_rule(alert.held_back_by)
    if new_visit:
        record(figures.VISITS, household=household)
    record(figures.ALERTS, channel="none", outcome="held_back", rule=rule, household=household)


def delivered(alert: Alert, delivery: Delivery) -> None:
    """What notify did with one alert, per channel."""
    for channel in delivery.channels:
        held_back = channel.status is DeliveryStatus.HELD_BACK
        rule = held_back_rule(channel.held_back_by) if held_back else ""
        record(
            figures.ALERTS,
            channel=channel.channel or "none",
            outcome=_outcome_label(channel.status),
            rule=rule,
            household=alert.household,
        )
