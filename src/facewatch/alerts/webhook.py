"""The generic webhook channel (Home Assistant, ntfy, …): one JSON POST per alert, with
its links. A 5xx or 429 is worth retrying; any other refusal is not, nor a redirect (never
followed: it could lead anywhere), nor a URL whose address the outbound policy refuses
(outbound.py). The URL is named in errors only as `outbound.redact_url` shows it: its path
and query are the household's secret (a Home Assistant webhook id, an ntfy topic)."""

from __future__ import annotations

from facewatch.alerts.links import Links
from facewatch.exceptions import (
    AlertError,
)
from facewatch.outbound import OutboundPolicy, OutboundRefused, Unresolvable, redact_url, resolve_target
from facewatch.records import Alert

WEBHOOK_TIMEOUT_SECONDS = 10.0
"""The longest one webhook POST may take (connect, and then each read)."""


def post_webhook(
    url: str,
    alert: Alert,
    links: Links,
    timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    *,
    policy: OutboundPolicy,
) -> str:
    """The generic webhook channel (Home Assistant, ntfy, …): a JSON POST with the links, to
    the address the policy checked just now."""
    import requests

    from facewatch.alerts.pinned_http import post_json

    payload = {
        "event": "facewatch.arrival" if alert.kind == "arrival" else "facewatch.stranger",
        "name": alert.faces[0].name if alert.kind == "arrival" and alert.faces else None,
        "alert_id": alert.alert_id,
        "household": alert.household,
        "camera": alert.camera,
        "captured_at": alert.captured_at.isoformat(),
        "visit_id": alert.visit_id,
        "visit_frames": alert.visit_frames,
        "strangers": len(alert.faces),  # the payload's key, which receivers read, stays
        "stranger_id": alert.stranger_id,
        "stranger_visits": alert.stranger_visits,
        "stranger_previous_seen": (
            alert.stranger_previous_seen.isoformat() if alert.stranger_previous_seen else None
        ),
        "photo_url": links.frame_url,
        "known_url": links.known_url,
    }
    where = redact_url(url)
    try:
        target = resolve_target(url, policy)
        response = post_json(target, url, payload, timeout=timeout)
    except OutboundRefused as exc:
        error = AlertError(f"webhook {exc}")
        error.retryable = isinstance(exc, Unresolvable)  # type: ignore[attr-defined]
        raise error from None
    except requests.RequestException as exc:
        raise AlertError(f"webhook {where} unreachable: {type(exc).__name__}") from None
    if 300 <= response.status_code < 400:
        error = AlertError(f"webhook {where} answered {response.status_code}: a redirect, not followed")
        error.retryable = False  # type: ignore[attr-defined]
        raise error
    if response.status_code >= 300:
        error = AlertError(f"webhook {where} answered {response.status_code}")
        error.retryable = response.status_code >= 500 or response.status_code == 429  # type: ignore[attr-defined]
        raise error
    return f"webhook {response.status_code}"
