"""What `facewatch up` hands the functions: the config's SMTP server with the password from
its file, or the local outbox; the exports that point the other commands at the stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facewatch.local.processes import StackError
from facewatch.local.up.config import parse_config
from facewatch.local.up.home import HomeStack, check_data_dir, check_port_free

KEYS = {
    "webhook_token": "t" * 32,
    "link_secret": "s" * 48,
    "notify_token": "n" * 32,
    "s3_access_key": "fwkey",
    "s3_secret_key": "k" * 64,
}


def test_the_functions_mail_through_the_configured_server(tmp_path: Path):
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    secret.chmod(0o600)
    loaded = parse_config(
        "[households.home]\nrecipients = ['a@example.test', 'b@example.test']\n"
        f"[smtp]\nhost = 'mail.example.test'\nport = 465\nsecurity = 'ssl'\nuser = 'me'\n"
        f"password_file = '{secret}'\nfrom = 'fw@example.test'\n"
    )
    env = HomeStack(tmp_path / "data", loaded, base_env={})._function_env(KEYS)
    assert {k: env[k] for k in env if k.startswith("FACEWATCH_SMTP") or k.startswith("FACEWATCH_MAIL")} == {
        "FACEWATCH_SMTP_HOST": "mail.example.test",
        "FACEWATCH_SMTP_PORT": "465",
        "FACEWATCH_SMTP_SECURITY": "ssl",
        "FACEWATCH_SMTP_USERNAME": "me",
        "FACEWATCH_SMTP_PASSWORD": "hunter2",
        "FACEWATCH_MAIL_FROM": "fw@example.test",
        "FACEWATCH_MAIL_TO": "a@example.test,b@example.test",
    }
    assert env["FACEWATCH_NOTIFY_URL"] == "http://127.0.0.1:8083/"
    assert env["FACEWATCH_WEBHOOK_TOKEN"] == KEYS["webhook_token"]
    assert env["FACEWATCH_NOTIFY_TOKEN"] == KEYS["notify_token"], "recognize sends it, notify checks it"
    assert env["FACEWATCH_OUTBOUND_ALLOW_PRIVATE"] == "true", "a household's Home Assistant is on the LAN"
    assert "FACEWATCH_OUTBOUND_ALLOW_LOOPBACK" not in env


def test_a_data_folder_from_before_notifys_token_gets_one_and_keeps_the_rest(tmp_path: Path):
    from facewatch.local.up.home import load_secrets

    old = {"webhook_token": "t" * 32, "link_secret": "s" * 48}
    (tmp_path / "secrets.json").write_text(json.dumps(old))
    (tmp_path / "secrets.json").chmod(0o600)
    loaded = load_secrets(tmp_path)
    assert {k: loaded[k] for k in old} == old and len(loaded["notify_token"]) == 32
    assert load_secrets(tmp_path) == loaded, "made once, the same every start"
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_with_an_outbox_no_login_leaves_the_machine(tmp_path: Path):
    loaded = parse_config("[smtp]\nhost = 'mail.example.test'\nuser = 'me'\n", env_password="pw")
    stack = HomeStack(
        tmp_path / "data", loaded, outbox=tmp_path / "outbox", base_env={"FACEWATCH_SMTP_PASSWORD": "pw"}
    )
    try:
        env = stack._function_env(KEYS)
        assert stack.outbox_server is not None
        assert env["FACEWATCH_SMTP_HOST"] == "127.0.0.1"
        assert env["FACEWATCH_SMTP_PORT"] == str(stack.outbox_server.port)
        assert "FACEWATCH_SMTP_PASSWORD" not in env and "FACEWATCH_SMTP_USERNAME" not in env
    finally:
        stack.stop()


def test_the_exports_point_at_the_stack(tmp_path: Path):
    loaded = parse_config("[ports]\ns3 = 9999\n")
    exports = HomeStack(tmp_path / "data", loaded, base_env={}).exports()
    assert exports["FACEWATCH_S3_ENDPOINT_URL"] == "http://127.0.0.1:9999"
    assert exports["FACEWATCH_SPOOL_DIR"] == str((tmp_path / "data" / "spool").resolve())
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FACEWATCH_BUCKET"} <= set(exports)


def test_preflight_refusals_are_one_clear_line(tmp_path: Path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StackError, match=rf"^port {port} \(ports.s3\) is in use"):
            check_port_free(port, "ports.s3")
    (tmp_path / "file").write_text("")
    with pytest.raises(StackError, match="is not writable"):
        check_data_dir(tmp_path / "file" / "data")


def test_the_data_folder_is_owner_only_and_keeps_keys_of_its_own(tmp_path: Path):
    import json
    import stat

    from facewatch.local.processes import LOCAL_CREDENTIALS
    from facewatch.local.up.home import load_secrets

    older = tmp_path / "older"
    older.mkdir()
    older.chmod(0o755)
    (older / "secrets.json").write_text(json.dumps({"webhook_token": "t" * 32, "link_secret": "s" * 48}))
    (older / "secrets.json").chmod(0o600)
    for data in (tmp_path / "fresh", older):
        check_data_dir(data)
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        keys = load_secrets(data)
        assert stat.S_IMODE((data / "secrets.json").stat().st_mode) == 0o600
        assert keys["s3_secret_key"] != LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        assert load_secrets(data) == keys  # the same every start
    assert load_secrets(older)["link_secret"] == "s" * 48  # earlier emails' links keep working
    assert load_secrets(older)["s3_secret_key"] != load_secrets(tmp_path / "fresh")["s3_secret_key"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_secrets_file_others_may_read_is_refused(tmp_path: Path, mode: int):
    from facewatch.local.up.home import load_secrets

    path = tmp_path / "secrets.json"
    path.write_text('{"webhook_token": "x"}')
    path.chmod(mode)
    with pytest.raises(StackError, match=rf"{path} may be read by others .*chmod 600 {path}"):
        load_secrets(tmp_path)
