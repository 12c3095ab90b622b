"""The request the console handles, as plain data: the app never sees Flask, so tests and
any other carrier (a Lambda behind its Web Adapter is Flask too) build the same value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_FILES = 10
"""Photos one upload may carry."""
FORM_BYTES = 1 << 20
"""What a request may carry beside its photos (fields, multipart framing)."""


@dataclass(frozen=True, slots=True)
class Upload:
    field: str
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ConsoleRequest:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    uploads: tuple[Upload, ...] = ()
    cookies: Mapping[str, str] = field(default_factory=dict)
    https: bool = False
    """Whether the browser reached us over https (directly or through a proxy that says so):
    the session cookie is then marked Secure."""

    @classmethod
    def from_flask(cls, request: Any, max_upload_bytes: int) -> ConsoleRequest:
        """Read a Flask request; an upload is read at most one byte past the limit, so a huge
        one is refused (by the action that checks sizes) without holding it all."""
        from facewatch.web.transport import TooLarge

        whole = MAX_FILES * max_upload_bytes + FORM_BYTES
        if request.content_length is not None and request.content_length > whole:
            raise TooLarge(f"the request of {request.content_length} bytes is over the limit of {whole}")
        uploads = tuple(
            Upload(name, storage.filename or "", storage.stream.read(max_upload_bytes + 1))
            for name in request.files
            for storage in request.files.getlist(name)
            if storage.filename
        )
        forwarded = request.headers.get("X-Forwarded-Proto", "")
        return cls(
            method=request.method,
            path=request.path,
            params={k: v for k, v in request.args.items()},
            form={k: v for k, v in request.form.items()},
            uploads=uploads,
            cookies=dict(request.cookies),
            https=request.scheme == "https" or forwarded.split(",")[0].strip() == "https",
        )
