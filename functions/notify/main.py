"""notify: email the household about a stranger (SMTP or Amazon SES).

functions-framework --target=notify --source=functions/notify/main.py
Lambda, invoked asynchronously by recognize: main.handler
"""

from typing import Any

import functions_framework
from flask import Request, Response

from facewatch.web import handlers, observed
from facewatch.web.services import services
from facewatch.web.transport import UnreadBody, flask_response, guarded, lambda_result

# The settings are read and checked as the instance starts: a weak or template secret
# stops it here, naming the variable, rather than at its first request.
services()


@functions_framework.http
@observed.http("notify")
def notify(request: Request) -> Response:
    def work() -> handlers.Reply:
        # The alert is read once the token is checked, within handlers.ALERT_BYTES.
        body = UnreadBody.from_flask(request)
        return handlers.notify(services(), body=body, headers=dict(request.headers))

    return flask_response(guarded("notify", work))


@observed.on_lambda("notify")
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return lambda_result(guarded("notify", lambda: handlers.notify(services(), body=event)))
