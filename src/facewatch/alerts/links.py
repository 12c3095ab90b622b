"""The links an alert carries: a presigned link to the frame; the signed "I know this
person" link when the deployment has a link secret and a feedback URL; and a one-time
sign-in link to the console page of that face (a session that reaches that face and its
naming only) when it has a link secret and a console URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from facewatch.config import Settings
from facewatch.records import Alert
from facewatch.store.storage import Storage
from facewatch.tokens import sign_face, sign_in_link


@dataclass(frozen=True, slots=True)
class Links:
    frame_url: str
    """A presigned link to the full frame; it expires."""
    known_url: str | None
    """The signed "I know this person" link, when the deployment has a link secret."""
    console_url: str | None = None
    """A one-time sign-in link that opens this alert's face in the console, and nothing
    else of it, when the deployment has a link secret and a console."""


def alert_links(alert: Alert, storage: Storage, settings: Settings, now: datetime) -> Links:

    frame_url = storage.presigned_url(alert.frame_key, settings.presign_seconds)
    if settings.link_secret is None or not alert.faces or alert.kind != "stranger":
        return Links(frame_url, None)
    secret = settings.link_secret.get_secret_value()
    ttl = timedelta(seconds=settings.link_ttl_seconds)
    known_url = None
    if settings.feedback_url:
        token = sign_face(secret, alert.household, alert.frame_key, alert.faces[0].box, now=now, ttl=ttl)
        known_url = f"{settings.feedback_url.rstrip('/')}/?token={token}"
    console_url = None
    verdict_id = alert.faces[0].verdict_id
    if settings.console_url and verdict_id:
        # That face and its naming only: a forwarded or leaked alert email opens no more.
        token = sign_in_link(secret, alert.household, now=now, ttl=ttl, face=verdict_id)
        console_url = f"{settings.console_url.rstrip('/')}/signin?token={token}"
    return Links(frame_url, known_url, console_url)
