"""recognize: judge the faces of each uploaded frame; alert notify about strangers.

Triggered by the bucket's notification, never called by the agent:
    functions-framework --target=recognize --source=functions/recognize/main.py
        (S3 event JSON, storage CloudEvents, MinIO / seaweedfs webhooks, SNS HTTPS subscriptions)
    Lambda with an S3 trigger: main.handler
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
@observed.http("recognize")
def recognize(request: Request) -> Response:
    def work() -> handlers.Reply:
        # Read once the webhook's token is checked (or, SNS's, within the largest message).
        body = UnreadBody.from_flask(request)
        return handlers.recognize(services(), headers=dict(request.headers), body=body)

    return flask_response(guarded("recognize", work))


@observed.on_lambda("recognize")
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return lambda_result(guarded("recognize", lambda: handlers.recognize(services(), headers={}, body=event)))
