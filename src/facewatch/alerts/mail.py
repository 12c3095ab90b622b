"""Building the alert email (pure: data in, EmailMessage out). Its HTML part
(templates/email.html) shows the face large first, cut from the frame, then the frame with
each stranger boxed, both inline; then the camera and the local time, how long the visit has
lasted, and the links: the console page of that face, "I know this person" and the full
frame. The plain-text part says the same in lines; the boxed frame is also attached."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Protocol

import cv2
import numpy as np

from facewatch.exceptions import AlertError, BadImage
from facewatch.faces.crops import crop_face
from facewatch.frames import Box
from facewatch.records import Alert
from facewatch.templates import local_time, render

__all__ = [
    "AlertLinks",
    "annotate_frame",
    "build_alert_email",
    "build_operator_email",
    "local_time",
    "stranger_history",
]


class AlertLinks(Protocol):
    @property
    def frame_url(self) -> str: ...
    @property
    def known_url(self) -> str | None: ...
    @property
    def console_url(self) -> str | None: ...
    @property
    def question_url(self) -> str | None: ...


def _decoded(frame_jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(frame_jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadImage("the alert's frame is not a decodable image")
    return image


def _boxed(image: np.ndarray, boxes: Sequence[Box], quality: int) -> bytes:
    image = image.copy()
    thickness = max(2, round(max(image.shape[:2]) / 300))
    for box in boxes:
        cv2.rectangle(image, (box.x, box.y), (box.x + box.w, box.y + box.h), (0, 0, 255), thickness)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadImage("could not encode the annotated frame")
    return buf.tobytes()


def annotate_frame(frame_jpeg: bytes, boxes: Sequence[Box], *, quality: int = 90) -> bytes:
    """The frame with each box drawn in red, as JPEG."""
    return _boxed(_decoded(frame_jpeg), boxes, quality)


def _face(image: np.ndarray, box: Box) -> bytes | None:
    """The face cut from the (unmarked) frame with the margin crops.py keeps; None when the
    box lies outside the frame: a crop must never cost the alert."""
    height, width = image.shape[:2]
    if box.x >= width or box.y >= height or box.x + box.w <= 0 or box.y + box.h <= 0:
        return None
    return crop_face(image, box, quality=90)


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
    image = _decoded(frame_jpeg)
    photo = _boxed(image, [f.box for f in alert.faces], 90)
    face = _face(image, alert.faces[0].box) if alert.faces else None
    count = len(alert.faces)
    who = "A stranger" if count == 1 else f"{count} strangers"
    subject = f"Stranger at {alert.camera} — {stamp}"
    if alert.kind == "arrival":  # a named person the household asked to hear about
        who = alert.faces[0].name or "Someone known"
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
    question = alert.question if links is not None and links.question_url else None
    if question is not None and links is not None:
        lines.append(f"Is this {question.person}? Answer yes or no in the console: {links.question_url}")
    if links is not None:
        if links.console_url:
            lines.append(f"Console: {links.console_url}")
        lines.append(f"Full frame (link expires): {links.frame_url}")
        if links.known_url:
            lines.append(f"I know this person: {links.known_url}")
    lines.append(f"Frame: {alert.frame_key}")
    message.set_content("\n".join(lines) + "\n")

    frame_cid = make_msgid(domain="facewatch.local")
    crop_cid = make_msgid(domain="facewatch.local") if face is not None else None
    message.add_alternative(
        render(
            "email.html",
            subject=subject,
            who=who,
            camera=alert.camera,
            household=alert.household,
            stamp=stamp,
            faces_in_frame=alert.faces_in_frame,
            visit=visit,
            history=history,
            verdict=alert.faces[0].verdict if alert.faces else "stranger",
            crop_cid=crop_cid[1:-1] if crop_cid else None,
            frame_cid=frame_cid[1:-1],
            links=links,
            question=question,
        ),
        subtype="html",
    )
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # added just above
    if face is not None and crop_cid is not None:
        html_part.add_related(face, maintype="image", subtype="jpeg", cid=crop_cid)
    html_part.add_related(photo, maintype="image", subtype="jpeg", cid=frame_cid)
    filename = f"stranger-{alert.camera}-{when.strftime('%Y%m%d-%H%M%S')}.jpg"
    message.add_attachment(photo, maintype="image", subtype="jpeg", filename=filename)
    return message
