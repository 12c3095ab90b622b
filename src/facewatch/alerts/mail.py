"""Building the alert email (pure: data in, EmailMessage out): the frame with each stranger
boxed, shown inline and attached, the camera and the local time, how long the visit has
lasted, a link to the full frame and an "I know this person" link."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np

from facewatch.exceptions import AlertError, BadImage
from facewatch.frames import Box
from facewatch.records import Alert


class AlertLinks(Protocol):
    @property
    def frame_url(self) -> str: ...
    @property
    def known_url(self) -> str | None: ...


def annotate_frame(frame_jpeg: bytes, boxes: Sequence[Box], *, quality: int = 90) -> bytes:
    image = cv2.imdecode(np.frombuffer(frame_jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadImage("the alert's frame is not a decodable image")
    thickness = max(2, round(max(image.shape[:2]) / 300))
    for box in boxes:
        cv2.rectangle(image, (box.x, box.y), (box.x + box.w, box.y + box.h), (0, 0, 255), thickness)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadImage("could not encode the annotated frame")
    return buf.tobytes()


def local_time(at: datetime, timezone: str) -> datetime:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")  # a wrong zone name must not cost the alert
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def stranger_history(alert: Alert, timezone: str) -> str:
    """Whether the household has seen this stranger before: 'First seen.' or 'Seen 3 times,
    last on Tue 24 Nov 2026 14:02.' (this visit counted)."""
    if alert.stranger_id is None:
        return ""
    if alert.stranger_visits <= 1 or alert.stranger_previous_seen is None:
        return f"First seen ({alert.stranger_id})."
    last = local_time(alert.stranger_previous_seen, timezone).strftime("%a %d %b %Y %H:%M")
    return f"Seen {alert.stranger_visits} times, last on {last} ({alert.stranger_id})."


def _message(alert: Alert, subject: str, mail_from: str, mail_to: Sequence[str]) -> EmailMessage:
    """The headers every facewatch email has; the alert id lets a receiver de-duplicate."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = ", ".join(mail_to)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="facewatch.local")
    message["X-Facewatch-Alert-Id"] = alert.alert_id
    return message


def build_operator_email(alert: Alert, *, mail_from: str, mail_to: Sequence[str]) -> EmailMessage:
    """A fault that stops facewatch from judging faces: plain text, no photo."""
    if not mail_to:
        raise AlertError("no recipients configured (FACEWATCH_OPERATOR_MAIL_TO or FACEWATCH_MAIL_TO)")
    message = _message(
        alert, f"facewatch cannot judge faces for household {alert.household}", mail_from, mail_to
    )
    message.set_content(
        f"Faces seen by camera {alert.camera} of household {alert.household} are recorded as "
        f"'cannot decide' and raise no stranger alerts until this is fixed:\n\n  {alert.problem}\n\n"
        "Re-enroll the household's known people (facewatch enroll) to rebuild its encodings.\n"
        f"First frame affected: {alert.frame_key}\n"
    )
    return message


def build_alert_email(
    alert: Alert,
    frame_jpeg: bytes,
    *,
    mail_from: str,
    mail_to: Sequence[str],
    timezone: str = "UTC",
    links: AlertLinks | None = None,
) -> EmailMessage:
    if not mail_to:
        raise AlertError("no recipients configured (FACEWATCH_MAIL_TO or the household's mail_to)")
    when = local_time(alert.captured_at, timezone)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S %Z")
    photo = annotate_frame(frame_jpeg, [f.box for f in alert.strangers])
    count = len(alert.strangers)
    who = "A stranger" if count == 1 else f"{count} strangers"
    subject = f"Stranger at {alert.camera} — {stamp}"
    if alert.kind == "arrival":  # a named person the household asked to hear about
        who = alert.strangers[0].name or "Someone known"
        subject = f"{who} arrived at {alert.camera} — {stamp}"
    visit = f"{alert.visit_frames} frame(s) so far"
    if alert.first_seen:
        visit = f"first seen {local_time(alert.first_seen, timezone).strftime('%H:%M:%S')}, {visit}"

    message = _message(alert, subject, mail_from, mail_to)

    history = stranger_history(alert, timezone)
    lines = [
        f"{who} at camera {alert.camera} of household {alert.household}, {stamp}.",
        f"Faces in the frame: {alert.faces_in_frame}. Visit: {visit}.",
    ]
    if history:
        lines.append(history)
    if links is not None:
        lines.append(f"Full frame (link expires): {links.frame_url}")
        if links.known_url:
            lines.append(f"I know this person: {links.known_url}")
    lines.append(f"Frame: {alert.frame_key}")
    message.set_content("\n".join(lines) + "\n")

    cid = make_msgid(domain="facewatch.local")
    link_html = ""
    if links is not None:
        link_html = (
            f"<p><a href='{html.escape(links.frame_url, quote=True)}'>Full frame</a> (the link expires)"
        )
        if links.known_url:
            link_html += f" · <a href='{html.escape(links.known_url, quote=True)}'>I know this person</a>"
        link_html += "</p>"
    message.add_alternative(
        "<html><body>"
        f"<p><b>{html.escape(who)}</b> at camera <b>{html.escape(alert.camera)}</b> of household "
        f"{html.escape(alert.household)}, {html.escape(stamp)}.</p>"
        f"<p>Faces in the frame: {alert.faces_in_frame}. Visit: {html.escape(visit)}.</p>"
        f"{f'<p>{html.escape(history)}</p>' if history else ''}"
        f"<p><img src='cid:{cid[1:-1]}' alt='the frame, strangers boxed in red' style='max-width:100%'></p>"
        f"{link_html}</body></html>",
        subtype="html",
    )
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # added just above
    html_part.add_related(photo, maintype="image", subtype="jpeg", cid=cid)
    filename = f"stranger-{alert.camera}-{when.strftime('%Y%m%d-%H%M%S')}.jpg"
    message.add_attachment(photo, maintype="image", subtype="jpeg", filename=filename)
    return message
