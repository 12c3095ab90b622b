"""notify's core: fetch the frame named by an alert, build the email, send it."""

from __future__ import annotations

import logging

from facewatch.channels import Channel
from facewatch.config import Settings
from facewatch.mail import build_alert_email
from facewatch.storage import Storage
from facewatch.verdicts import Alert

log = logging.getLogger(__name__)


def deliver(alert: Alert, *, storage: Storage, channel: Channel, settings: Settings) -> str:
    frame = storage.get(alert.frame_key).body
    message = build_alert_email(
        alert, frame, mail_from=settings.mail_from, mail_to=settings.mail_to, timezone=settings.timezone
    )
    delivery_id = channel.send(message)
    log.info("alert %s for %s/%s delivered: %s", alert.alert_id, alert.household, alert.camera, delivery_id)
    return delivery_id
