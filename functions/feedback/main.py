"""feedback: the "I know this person" link in an alert email (GET shows the form, POST
enrolls the face the signed link names).

    functions-framework --target=feedback --source=functions/feedback/main.py
"""

import functions_framework
from flask import Request, Response

from facewatch.web import feedback as core
from facewatch.web import observed
from facewatch.web.services import services
from facewatch.web.transport import flask_response, guarded, read_form

# The settings are read and checked as the instance starts: a weak or template secret
# stops it here, naming the variable, rather than at its first request.
services()


@functions_framework.http
@observed.http("feedback")
def feedback(request: Request) -> Response:
    def work() -> core.Reply:
        s = services()
        # Its token is inside the form: the form is read, but no more of it than a form holds.
        form = read_form(request, core.FORM_BYTES) if request.method == "POST" else {}
        return core.handle(s.settings, s.storage, method=request.method, params=dict(request.args), form=form)

    return flask_response(guarded("feedback", work))
