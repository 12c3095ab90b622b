"""Every HTML page facewatch writes (the console, the feedback pages, the report page and the
HTML part of the alert email) comes from the Jinja2 templates in this folder, never from
strings put together in Python: autoescaping is on for every `.html` template, so a name, a
camera id or a stranger id is always shown as text and can never become markup, and an
undefined variable is an error rather than an empty space. The pages share `base.html` and
one small stylesheet, `style.css`, which base.html inlines, so that a page stays one
self-contained file (the report opens from disk or an email attachment; the console serves
the same markup).

This module loads neither OpenCV nor boto3: a page is text; pictures come in as bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

FOLDER = Path(__file__).resolve().parent
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_time(at: datetime, timezone: str) -> datetime:
    """`at` in the household's time zone (a naive time is taken as UTC); a wrong zone name
    falls back to UTC, since it must not cost an alert or a page."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def localtime(at: datetime, timezone: str, fmt: str = TIME_FORMAT) -> str:
    """The filter `{{ at|localtime(zone) }}`: `at` as the household reads it."""
    return local_time(at, timezone).strftime(fmt)


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """The filter `{{ jpeg|data_uri }}`: a picture inline in the page (no request for it)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@cache
def stylesheet() -> str:
    """The one stylesheet of every page (base.html inlines it into a <style>)."""
    return (FOLDER / "style.css").read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    """The one environment, built on first use."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(FOLDER),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["localtime"] = localtime
    env.filters["data_uri"] = data_uri
    env.globals["stylesheet"] = stylesheet
    return env


def render(template: str, /, **context: Any) -> str:
    """The template (a path in this folder, e.g. "report.html") filled with `context`."""
    return environment().get_template(template).render(**context)
