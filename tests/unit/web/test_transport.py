"""How the functions take a body (issue 24): only once what needs no body is checked, and
never past their limit; and their replies, streamed so that functions-framework does not
read a refused body afterwards."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from flask import Flask, request

from facewatch.config import Settings
from facewatch.web.handlers import EVENT_BYTES, SNS_BODY_BYTES, _notification_limit
from facewatch.web.transport import Reply, TooLarge, Unauthorized, UnreadBody, flask_response, read_form

TOKEN = "webhook-token-0123456789abcdef-0123456789"
TOPIC = "arn:aws:sns:us-east-1:123456789012:facewatch-frames"


class Trickle:
    """A body as a server hands it over: a few bytes a read, counting what was read."""

    def __init__(self, size: int, step: int = 1000) -> None:
        self.left, self.step, self.taken = size, step, 0

    def read(self, n: int) -> bytes:
        give = min(self.left, self.step, n)
        self.left -= give
        self.taken += give
        return b"x" * give


def flask_body(declared: int | None, stream: Trickle) -> UnreadBody:
    return UnreadBody.from_flask(SimpleNamespace(content_length=declared, stream=stream))


def test_a_declared_length_over_the_limit_is_refused_with_nothing_read():
    stream = Trickle(10_000)
    with pytest.raises(TooLarge, match="10000 bytes is over the limit of 9999"):
        flask_body(10_000, stream).read(9_999)
    assert stream.taken == 0


def test_a_chunked_body_is_cut_off_one_byte_past_the_limit():
    stream = Trickle(10_000_000)
    with pytest.raises(TooLarge, match="over the limit of 5000 bytes"):
        flask_body(None, stream).read(5_000)
    assert stream.taken == 5_001


def test_a_body_within_the_limit_is_read_whole_however_it_trickles_in():
    assert flask_body(None, Trickle(4_321, step=7)).read(5_000) == b"x" * 4_321
    assert UnreadBody.of(b"frame").read(5) == b"frame"
    with pytest.raises(TooLarge):
        UnreadBody.of(b"frame!").read(5)  # a Lambda event's decoded body: the same limit


@pytest.fixture
def app() -> Iterator[Flask]:
    yield Flask(__name__)


def test_every_reply_is_streamed_with_its_length(app):
    with app.test_request_context("/", method="POST"):
        for reply, kind in [
            (Reply(401, {"error": "Unauthorized", "message": "é"}), "application/json"),
            (Reply(200, "<p>page</p>", {"Content-Type": "text/html; charset=utf-8"}), "text/html"),
            (Reply(200, b"\xff\xd8", {"Content-Type": "image/jpeg"}), "image/jpeg"),
            (Reply(303, "", {"Location": "/faces"}), None),
        ]:
            response = flask_response(reply)
            # functions-framework reads the request's whole body after any reply not streamed.
            assert response.is_streamed
            assert response.status_code == reply.status
            body = b"".join(response.response)
            assert response.headers["Content-Length"] == str(len(body))
            if kind is not None:
                assert response.headers["Content-Type"].startswith(kind)
            if isinstance(reply.body, dict):
                assert json.loads(body) == reply.body


def test_a_small_form_is_read_urlencoded_or_multipart(app):
    with app.test_request_context("/", method="POST", data={"token": "t.s", "name": "Ann"}):
        assert read_form(request, 16_384) == {"token": "t.s", "name": "Ann"}
    with app.test_request_context(
        "/", method="POST", data={"token": "t.s", "photo": (io.BytesIO(b"x"), "a.jpg")}
    ):
        assert read_form(request, 16_384) == {"token": "t.s"}


def test_a_form_over_the_limit_is_refused_not_parsed_in_part(app):
    """werkzeug itself stops reading an urlencoded chunked body at its limit and parses the
    part it read; the form must be refused instead."""
    from werkzeug.test import create_environ

    body = b"token=t.s&name=" + b"x" * 20_000
    environ = create_environ("/", method="POST", content_type="application/x-www-form-urlencoded")
    del environ["CONTENT_LENGTH"]
    environ.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    with app.request_context(environ):
        assert request.content_length is None  # chunked: no length declared
        with pytest.raises(TooLarge, match="over the limit of 16384 bytes"):
            read_form(request, 16_384)
    with (
        app.test_request_context(
            "/", method="POST", data=body, content_type="application/x-www-form-urlencoded"
        ),
        pytest.raises(TooLarge, match="20015 bytes"),
    ):
        read_form(request, 16_384)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, bucket="b", **values)  # type: ignore[arg-type]


def test_a_webhook_without_its_token_is_refused_before_its_body():
    with_token = settings(webhook_token=TOKEN)
    with pytest.raises(Unauthorized):
        _notification_limit(with_token, {})
    with pytest.raises(Unauthorized):
        _notification_limit(with_token, {"Authorization": "Bearer wrong"})
    assert _notification_limit(with_token, {"authorization": f"Bearer {TOKEN}"}) == EVENT_BYTES
    assert _notification_limit(settings(), {}) == EVENT_BYTES  # no token: nothing to check first


def test_what_may_be_sns_is_read_but_no_further_than_its_largest_message():
    """SNS's signature is inside the body: a request without a bearer token is read when
    SNS topics are configured, or when it says it is SNS's (so an operator who forgot the
    topics is told so), within SNS_BODY_BYTES."""
    subscribed = settings(webhook_token=TOKEN, sns_topic_arns=[TOPIC])
    assert _notification_limit(subscribed, {}) == SNS_BODY_BYTES
    assert _notification_limit(subscribed, {"Authorization": "Basic dTpw"}) == SNS_BODY_BYTES
    assert _notification_limit(subscribed, {"Authorization": f"Bearer {TOKEN}"}) == EVENT_BYTES
    with pytest.raises(Unauthorized):
        _notification_limit(subscribed, {"Authorization": "Bearer wrong"})
    unsubscribed = settings(webhook_token=TOKEN)
    assert _notification_limit(unsubscribed, {"x-amz-sns-message-type": "SubscriptionConfirmation"}) == (
        SNS_BODY_BYTES
    )
    assert SNS_BODY_BYTES < EVENT_BYTES
