"""console: the household's web console (faces, strangers, people, cameras, settings),
signed in to by a one-time link (`facewatch console-link`).

    functions-framework --target=console --source=functions/console/main.py
"""

import functions_framework
from flask import Request, Response

from facewatch.web import observed
from facewatch.web.console.app import handle_http
from facewatch.web.services import services
from facewatch.web.transport import flask_response

# The settings are read and checked as the instance starts: a weak or template secret
# stops it here, naming the variable, rather than at its first request.
services()


@functions_framework.http
@observed.http("console")
def console(request: Request) -> Response:
    # Every failure becomes a page inside handle_http: a browser, not a program, reads it.
    # Streamed: so that functions-framework does not read a refused upload's body.
    return flask_response(handle_http(services(), request))
