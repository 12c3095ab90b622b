"""The links an alert carries: a presigned link to the frame, and the signed "I know this
person" link when the deployment has a link secret and a feedback URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from facewatch.config import Settings
from facewatch.records import Alert
from facewatch.store.storage import Storage


@dataclass(frozen=True, slots=True)
class Links:
    frame_url: str
    """A presigned link to the full frame; it expires."""
    known_url: str | None
    """The signed "I know this person" link, when the deployment has a link secret."""


def alert_links(alert: Alert, storage: Storage, settings: Settings, now: datetime) -> Links:
    from datetime import timedelta

    from facewatch.tokens import sign_face

    frame_url = storage.presigned_url(alert.frame_key, settings.presign_seconds)
    known_url = None
    if (
        settings.link_secret is not None
        and settings.feedback_url
        and alert.strangers
        and alert.kind == "stranger"
    ):
        token = sign_face(
            settings.link_secret.get_secret_value(),
            alert.household,
            alert.frame_key,
            alert.strangers[0].box,
            now=now,
            ttl=timedelta(seconds=settings.link_ttl_seconds),
        )
        known_url = f"{settings.feedback_url.rstrip('/')}/?token={token}"
    return Links(frame_url, known_url)
