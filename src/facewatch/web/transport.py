"""What every HTTP entry point shares: bearer-token checks, the mapping from facewatch's
error tree to status codes, and one log line per refused request."""

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


FlaskReply = tuple[dict[str, Any] | str | bytes, int, dict[str, str]]
"""What a functions-framework HTTP target returns: body (JSON, a page or an image), status,
headers."""


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
        log.exception("%s: unexpected failure", name)
        return Reply(500, {"error": "InternalError", "message": f"{type(exc).__name__}: unexpected failure"})


def flask_response(reply: Reply) -> FlaskReply:
    return reply.body, reply.status, reply.headers


def read_body(request: Any, limit: int) -> bytes:
    """A Flask request's body, refused unread when it is over the limit."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"body of {request.content_length} bytes is over the limit of {limit}")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise TooLarge(f"body is over the limit of {limit} bytes")
    return body


def lambda_result(reply: Reply) -> dict[str, Any]:
    """For event-triggered Lambdas: a retryable failure must raise, so Lambda retries the
    event and finally hands it to the on-failure destination; anything else returns."""
    body: dict[str, Any] = reply.body if isinstance(reply.body, dict) else {"body": reply.body}
    if reply.status >= 500:
        raise RuntimeError(f"{body.get('error')}: {body.get('message')}")
    return {"status": reply.status, **body}
