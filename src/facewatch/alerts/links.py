"""The links an alert carries: a link to the frame (a signed one through the deployment's
door where it has one, Settings.frame_link_url, else presigned to the storage); the signed "I know this
person" link when the deployment has a link secret and a feedback URL; and a one-time
sign-in link to the console page of that face (a session that reaches that face and its
naming only) when it has a link secret and a console URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from facewatch.config import Settings
from facewatch.records import Alert
from facewatch.store.storage import Storage
from facewatch.tokens import sign_face, sign_in_link, sign_picture


@dataclass(frozen=True, slots=True)
class Links:
    frame_url: str
    """A link to the full frame (picture_link); it expires."""
    known_url: str | None
    """The signed "I know this person" link, when the deployment has a link secret."""
    console_url: str | None = None
    """A one-time sign-in link that opens this alert's face in the console, and nothing
    else of it, when the deployment has a link secret and a console."""
    question_url: str | None = None
    """Where the alert's face is a question "Is this X?": the console link that opens the
    face asked about (the alerted face's own link, or one for the earlier face of the same
    person the question shows), where it can be answered."""


def picture_link(storage: Storage, settings: Settings, household: str, key: str, now: datetime) -> str:
    """A link to one picture of the household that expires after presign_seconds: through
    the door (a signed link it checks) where the deployment has one, else presigned to the
    storage, which only works where the storage is reachable from where the link is opened."""
    if settings.frame_link_url and settings.link_secret is not None:
        ttl = timedelta(seconds=settings.presign_seconds)
        token = sign_picture(settings.link_secret.get_secret_value(), household, key, now=now, ttl=ttl)
        return f"{settings.frame_link_url.rstrip('/')}?token={token}"
    return storage.presigned_url(key, settings.presign_seconds)


def alert_links(alert: Alert, storage: Storage, settings: Settings, now: datetime) -> Links:
    frame_url = picture_link(storage, settings, alert.household, alert.frame_key, now)
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
    question_url = None
    if alert.question is not None and settings.console_url:
        asked = alert.question.verdict_id
        if asked == verdict_id:
            question_url = console_url
        else:
            token = sign_in_link(secret, alert.household, now=now, ttl=ttl, face=asked)
            question_url = f"{settings.console_url.rstrip('/')}/signin?token={token}"
    return Links(frame_url, known_url, console_url, question_url)
