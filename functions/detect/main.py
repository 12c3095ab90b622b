"""detect: a camera too simple to run the edge agent POSTs a frame here.

functions-framework --target=detect --source=functions/detect/main.py
Lambda (Function URL / API Gateway): main.handler
"""

from typing import Any

import functions_framework
from flask import Request, Response

from facewatch.web import handlers, observed
from facewatch.web.services import services
from facewatch.web.transport import UnreadBody, flask_response, guarded

# The settings are read and checked as the instance starts: a weak or template secret
# stops it here, naming the variable, rather than at its first request.
services()


@functions_framework.http
@observed.http("detect")
def detect(request: Request) -> Response:
    def work() -> handlers.Reply:
        # The frame is read once the camera's token is checked, within max_upload_bytes.
        body = UnreadBody.from_flask(request)
        return handlers.detect(
            services(), headers=dict(request.headers), params=dict(request.args), body=body
        )

    return flask_response(guarded("detect", work))


@observed.on_lambda("detect")
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    def work() -> handlers.Reply:
        headers, params, body = handlers.lambda_http_parts(event)
        return handlers.detect(services(), headers=headers, params=params, body=body)

    return handlers.lambda_http_reply(guarded("detect", work))
