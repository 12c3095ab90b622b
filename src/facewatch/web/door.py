"""The door: one WSGI app for the LAN (`facewatch up` runs it under gunicorn, with TLS),
serving what a household's phone opens from an alert, by path:

    /feedback/?token=…   the "I know this person" page (web/feedback.py)
    /detect              detect, for cameras that POST frames (only with cameras=True;
                         each with its household's detect token)
    everything else      the console (web/console/), behind its sign-in and session, and
                         the pictures alert links show (/picture?token=…, signed, expiring)

X-Forwarded-Proto, -Host and -For are believed from the trusted proxies only (tls off,
behind the person's own reverse proxy): from anyone else they are dropped before the
console reads them, so a LAN client cannot pass plain http off as https."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from facewatch.web.services import services
from facewatch.web.transport import Reply, flask_response, guarded

FORWARDED = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED")


def create_app(cameras: bool = False, trusted_proxies: Iterable[str] = ()) -> Any:
    """The door's Flask app (gunicorn: `facewatch.web.door:create_app(cameras=True, …)`).
    Flask is imported here, not with the module: it loads click, which only cli/ may."""
    from flask import Flask, Response, request

    services()  # a weak or missing secret stops the door as it starts, naming the variable
    app = Flask("facewatch.door")
    app.wsgi_app = _forwarded_only_from(app.wsgi_app, trusted_proxies)  # type: ignore[method-assign]

    @app.route("/feedback/", methods=["GET", "POST"])
    def feedback() -> Response:
        return flask_response(guarded("feedback", lambda: _feedback(request)))

    @app.route("/detect", methods=["POST"])
    @app.route("/detect/", methods=["POST"])
    def detect() -> Response:
        if not cameras:
            return flask_response(Reply(404, {"error": "detect is not served here ([web] cameras = false)"}))
        return flask_response(guarded("detect", lambda: _detect(request)))

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def console(path: str) -> Response:
        from facewatch.web.console.app import handle_http

        return flask_response(handle_http(services(), request))

    return app


def _feedback(request: Any) -> Reply:
    from facewatch.web import feedback as core
    from facewatch.web.transport import read_form

    s = services()
    form = read_form(request, core.FORM_BYTES) if request.method == "POST" else {}
    return core.handle(s.settings, s.storage, method=request.method, params=dict(request.args), form=form)


def _detect(request: Any) -> Reply:
    from facewatch.web import handlers
    from facewatch.web.transport import UnreadBody

    body = UnreadBody.from_flask(request)
    return handlers.detect(services(), headers=dict(request.headers), params=dict(request.args), body=body)


def _forwarded_only_from(app: Callable[..., Any], trusted: Iterable[str]) -> Callable[..., Any]:
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def believed(remote: str) -> bool:
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(address in network for network in networks)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not believed(environ.get("REMOTE_ADDR", "")):
            for name in FORWARDED:
                environ.pop(name, None)
        return app(environ, start_response)

    return wsgi
