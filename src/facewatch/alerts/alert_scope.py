"""What an alert handed to notify may point at: a frame of its own household, in this
deployment's bucket. notify presigns the frame for the webhook, attaches it to the email
and crops its face for MQTT, so an alert naming another household's frame (or another
bucket) would send that household's picture to whoever owns the alert's channels."""

from __future__ import annotations

import re

from facewatch.exceptions import BadInput, BadKey
from facewatch.layout import FrameKey
from facewatch.records import Alert

_ALERT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""recognize's ids are 20 hex digits; an id is part of the alert's keys (sent, claims, dead)."""


def check_alert_scope(alert: Alert, bucket: str) -> Alert:
    """The alert, or BadInput saying which of its fields points outside its household."""
    if not _ALERT_ID.fullmatch(alert.alert_id):
        raise BadInput(f"alert id {alert.alert_id[:80]!r} is not an alert id (1-64 of A-Z, a-z, 0-9, _, -)")
    if alert.bucket != bucket:
        raise BadInput(f"alert {alert.alert_id} names bucket {alert.bucket[:80]!r}, not this deployment's")
    try:
        frame = FrameKey.parse(alert.frame_key)
    except BadKey as exc:
        raise BadInput(f"alert {alert.alert_id}: its frame_key is not a frame's key: {exc}") from None
    if frame.household != alert.household or frame.camera != alert.camera:
        raise BadInput(
            f"alert {alert.alert_id} for {alert.household}/{alert.camera} names a frame of "
            f"{frame.household}/{frame.camera}: an alert may only show its own household's camera"
        )
    return alert
