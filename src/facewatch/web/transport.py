"""What every HTTP entry point shares: bearer-token checks, a body read only after them and
within a limit, the mapping from facewatch's error tree to status codes, one log line per
refused request, and the one way a reply goes back to functions-framework (streamed)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from facewatch.exceptions import (
    AlertError,
    BadInput,
    FacewatchError,
    ModelsUnavailable,
    ObjectMissing,
    StorageError,
)

log = logging.getLogger("facewatch.web.transport")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any] | str | bytes
    """JSON, an HTML page or an image (with its Content-Type in headers)."""
    headers: dict[str, str] = field(default_factory=dict)


class Unauthorized(BadInput):
    pass


class TooLarge(BadInput):
    pass


class Forbidden(BadInput):
    """Signed in, but not allowed: a form without its CSRF token, another household's data."""


def require_bearer(headers: Mapping[str, str], token: SecretStr | None) -> None:
    """Refuse the request unless it carries `Authorization: Bearer <token>` (when a token
    is configured). Compared in constant time; the token never appears in a message."""
    if token is None:
        return
    header = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, given = header.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthorized("missing or wrong bearer token")


def status_for(exc: Exception) -> int:
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, ObjectMissing):
        return 404
    if isinstance(exc, BadInput):
        return 400
    if isinstance(exc, (StorageError, AlertError)):
        return 503  # the sender should retry: storage or the mail path is down for now
    if isinstance(exc, ModelsUnavailable):
        return 500
    return 500


def guarded(name: str, work: Callable[[], Reply]) -> Reply:
    """Run one request; every failure becomes a JSON error reply with a clear message."""
    try:
        return work()
    except FacewatchError as exc:
        status = status_for(exc)
        count_error(name, type(exc).__name__)
        log.log(
            logging.WARNING if status < 500 else logging.ERROR,
            "%s: %d %s: %s",
            name,
            status,
            type(exc).__name__,
            exc,
        )
        return Reply(status, {"error": type(exc).__name__, "message": str(exc)})
    except Exception as exc:  # a bug: keep the process up, say so, and let the sender retry
        count_error(name, "InternalError")
        log.exception("%s: unexpected failure", name)
        return Reply(500, {"error": "InternalError", "message": f"{type(exc).__name__}: unexpected failure"})


def count_error(function: str, kind: str) -> None:
    """One failed request in the `errors` figure: by function and kind (the error's class;
    InternalError: a bug). Every entry point's failures are counted through here."""
    from facewatch.telemetry.figures import ERRORS, record

    record(ERRORS, function=function, kind=kind)


def flask_response(reply: Reply) -> Any:
    """The reply as the Flask response a functions-framework target returns, streamed.
    functions-framework's after-request hook reads the request's whole body into memory
    before answering unless the response is streamed: so a refusal of a body never read
    (a stranger's, or one over the limit) would read it anyway, all of it, with no limit.
    Streamed (with its length, so the connection stays reusable), the reply goes out at
    once, and the server drops the unread body as it arrives, a bounded piece at a time."""
    from flask import Response, json

    headers = dict(reply.headers)
    if isinstance(reply.body, dict):
        body = json.dumps(reply.body).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        body = reply.body if isinstance(reply.body, bytes) else reply.body.encode()
    headers["Content-Length"] = str(len(body))
    return Response(iter([body]), reply.status, headers)


@dataclass(frozen=True, slots=True)
class UnreadBody:
    """A request's body before a byte of it is read. A handler first checks what needs no
    body (its bearer token, which may name who it is for in the query or the headers), and
    only then reads the body, within the limit of what it takes: so a stranger's body is
    refused unread, and nobody's is read past the limit, however it is sent."""

    declared: int | None
    """Content-Length, when the sender gave one (a chunked body has none)."""
    take: Callable[[int], bytes] = field(repr=False)
    """Up to that many bytes of the body (fewer only at its end)."""

    def read(self, limit: int) -> bytes:
        """The whole body; TooLarge when it is over `limit` bytes: a declared length over
        it is refused unread, a chunked body is cut off one byte past it."""
        if self.declared is not None and self.declared > limit:
            raise TooLarge(f"body of {self.declared} bytes is over the limit of {limit}")
        body = self.take(limit + 1)
        if len(body) > limit:
            raise TooLarge(f"body is over the limit of {limit} bytes")
        return body

    @classmethod
    def of(cls, data: bytes) -> UnreadBody:
        """A body already in memory (a Lambda event's): the same limits apply to it."""
        return cls(len(data), lambda n: data[:n])

    @classmethod
    def from_flask(cls, request: Any) -> UnreadBody:
        return cls(request.content_length, lambda n: _take(request.stream, n))


def _take(stream: Any, n: int) -> bytes:
    """Up to n bytes of a stream that may return fewer at a time (a chunked body)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = stream.read(min(n - got, 1 << 20))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


FORM_FIELDS = 20
"""Fields a small form may have (werkzeug's count of parts, so a form of thousands of
empty fields is cut off too)."""


def read_form(request: Any, limit: int) -> dict[str, str]:
    """A Flask request's small form (urlencoded or multipart; files are not kept), read as
    any body is (UnreadBody: at most `limit` bytes) and parsed from what was read. Not by
    werkzeug from the request's stream: it stops reading an urlencoded body at its limit
    and parses the part it read, as if that were all."""
    import io

    from werkzeug.exceptions import RequestEntityTooLarge
    from werkzeug.formparser import FormDataParser

    body = UnreadBody.from_flask(request).read(limit)
    parser = FormDataParser(max_form_memory_size=limit, max_content_length=limit, max_form_parts=FORM_FIELDS)
    try:
        _, form, _ = parser.parse(io.BytesIO(body), request.mimetype, len(body), request.mimetype_params)
    except RequestEntityTooLarge:
        raise TooLarge(f"the form has more than {FORM_FIELDS} fields") from None
    return {k: v for k, v in form.items()}


def lambda_result(reply: Reply) -> dict[str, Any]:
    """For event-triggered Lambdas: a retryable failure must raise, so Lambda retries the
    event and finally hands it to the on-failure destination; anything else returns."""
    body: dict[str, Any] = reply.body if isinstance(reply.body, dict) else {"body": reply.body}
    if reply.status >= 500:
        raise RuntimeError(f"{body.get('error')}: {body.get('message')}")
    return {"status": reply.status, **body}
