"""The "keeps dying" report reaches the operator as an email, through the stack's SMTP
settings (here the local outbox server)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from facewatch.local.outbox import OutboxServer
from facewatch.local.up.config import load_config
from facewatch.local.up.home import HomeStack

# A real SMTP server (aiosmtpd), as the operator's mail goes out.
pytestmark = pytest.mark.integration


def test_the_operator_hears_that_a_process_keeps_dying(tmp_path: Path):
    with OutboxServer(tmp_path / "outbox") as outbox:
        stack = HomeStack(tmp_path / "data", load_config(None), outbox=tmp_path / "outbox")
        stack.function_env = {
            "FACEWATCH_MAIL_FROM": "facewatch@localhost",
            "FACEWATCH_MAIL_TO": "operator@example.test",
            "FACEWATCH_SMTP_HOST": "127.0.0.1",
            "FACEWATCH_SMTP_PORT": str(outbox.port),
            "FACEWATCH_SMTP_SECURITY": "none",
        }
        stack.tell_operator("notify", "notify died 5 times within 300 s (last: exited with status 1)")
        (sent,) = outbox.messages
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "facewatch: notify keeps dying"
    assert message["To"] == "operator@example.test"
    assert "died 5 times" in message.get_content()
