"""The request the console handles, as plain data: the app never sees Flask, so tests and
any other carrier (a Lambda behind its Web Adapter is Flask too) build the same value.

A request arrives in two steps: its head (method, path, query, cookies, the headers that
say where it comes from) is read at once; its body only when the app asks for it, with the
limits of the form it is for. So the app checks the session and the request's origin
before a byte of an upload is read: a stranger's chunked POST is answered, not read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_FILES = 10
"""Photos one upload may carry."""
FORM_BYTES = 1 << 20
"""What a request may carry beside its photos (fields, multipart framing)."""
MAX_FIELDS = 20
"""Fields one form may have beside its files (no console form has half as many)."""


@dataclass(frozen=True, slots=True)
class Upload:
    field: str
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Form:
    """A request's body, read."""

    fields: Mapping[str, str] = field(default_factory=dict)
    uploads: tuple[Upload, ...] = ()


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """What one form may send: the whole body, how many files and how big each."""

    files: int = 0
    file_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.files * self.file_bytes + FORM_BYTES


def _no_body(limit: BodyLimit) -> Form:
    return Form()


@dataclass(frozen=True, slots=True)
class ConsoleRequest:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    https: bool = False
    """Whether the browser reached us over https (directly or through a proxy that says so):
    the session cookie is then marked Secure."""
    origin: str | None = None
    """The Origin header: the site whose page sent this request (browsers send it with
    every POST; a program may not)."""
    fetch_site: str | None = None
    """Sec-Fetch-Site: same-origin, same-site, cross-site or none (browsers' own word)."""
    hosts: tuple[str, ...] = ()
    """The host (and port) the browser asked for: Host, and X-Forwarded-Host behind a proxy."""
    content_length: int | None = None
    read_body: Callable[[BodyLimit], Form] = _no_body
    """Reads the body within a limit (once; the app calls it after its checks)."""

    @classmethod
    def from_flask(cls, request: Any) -> ConsoleRequest:
        """A Flask request's head; its body is read later, by `read_body`, if at all."""
        headers = request.headers
        forwarded = headers.get("X-Forwarded-Proto", "")
        hosts = [headers.get("Host", ""), headers.get("X-Forwarded-Host", "").split(",")[0]]
        return cls(
            method=request.method,
            path=request.path,
            params={k: v for k, v in request.args.items()},
            cookies=dict(request.cookies),
            https=request.scheme == "https" or forwarded.split(",")[0].strip() == "https",
            origin=headers.get("Origin"),
            fetch_site=headers.get("Sec-Fetch-Site"),
            hosts=tuple(h.strip().lower() for h in hosts if h.strip()),
            content_length=request.content_length,
            read_body=lambda limit: _read_flask_body(request, limit),
        )


def _read_flask_body(request: Any, limit: BodyLimit) -> Form:
    """The form within `limit`: a declared length over it is refused unread, a chunked body
    is cut off where it passes it (werkzeug counts as it reads), and so is a body of more
    parts than the form has; files beyond the form's number are refused before any is kept.
    Photos are spooled to disk by the parser and read here one by one, each at most one
    byte past its limit (the action that checks sizes then refuses it)."""
    from werkzeug.exceptions import RequestEntityTooLarge

    from facewatch.exceptions import BadInput
    from facewatch.web.transport import TooLarge

    whole = limit.total_bytes
    if request.content_length is not None and request.content_length > whole:
        raise TooLarge(f"the request of {request.content_length} bytes is over the limit of {whole}")
    request.max_content_length = whole
    request.max_form_memory_size = FORM_BYTES
    request.max_form_parts = limit.files + MAX_FIELDS
    try:
        fields = {k: v for k, v in request.form.items()}
        files = [(name, f) for name in request.files for f in request.files.getlist(name) if f.filename]
    except RequestEntityTooLarge:
        raise TooLarge(
            f"the request is over the limit of {whole} bytes or {limit.files + MAX_FIELDS} parts"
        ) from None
    if files and not limit.files:
        raise BadInput("this form takes no files")
    if len(files) > limit.files:
        raise TooLarge(f"{len(files)} files: one upload may carry at most {limit.files}")
    uploads = tuple(Upload(name, f.filename or "", f.stream.read(limit.file_bytes + 1)) for name, f in files)
    return Form(fields, uploads)
