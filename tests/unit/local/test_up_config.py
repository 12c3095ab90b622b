"""The config file of `facewatch up`: each mistake the issue names is one clear line, all
mistakes are reported together, and `facewatch up --check` only validates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from facewatch.cli.main import main
from facewatch.local.up.config import ConfigError, HomeConfig, load_config, parse_config

GOOD = """
[households.home]
recipients = ["me@example.test"]
timezone = "Europe/Berlin"

[households.cabin]

[[cameras]]
id = "front-door"
household = "home"
source = "rtsp://192.168.1.20:554/stream1"

[[cameras]]
id = "porch"
household = "cabin"
source = "0"

[smtp]
host = "smtp.example.test"
port = 587
security = "starttls"
from = "facewatch@example.test"

[ports]
s3 = 9333
detect = 9081
"""


def problems(text: str, env_password: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env_password=env_password)
    return caught.value.problems


def test_a_good_config_is_read_whole():
    loaded = parse_config(GOOD)
    config = loaded.config
    assert list(config.households) == ["home", "cabin"]
    assert config.households["home"].recipients == ["me@example.test"]
    assert config.households["cabin"].timezone is None
    assert [(c.id, c.household, c.source) for c in config.cameras] == [
        ("front-door", "home", "rtsp://192.168.1.20:554/stream1"),
        ("porch", "cabin", "0"),
    ]
    assert config.smtp is not None and config.smtp.mail_from == "facewatch@example.test"
    assert (config.ports.s3, config.ports.detect, config.ports.recognize) == (9333, 9081, 8082)
    assert loaded.smtp_password is None


def test_without_a_config_there_is_one_household_home_and_no_cameras():
    loaded = load_config(None)
    assert list(loaded.config.households) == ["home"] and loaded.config.cameras == []
    assert loaded.config == HomeConfig()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[households.home]\nrecipents = []", "households.home.recipents: unknown key"),
        ("colour = 'blue'", "colour: unknown key"),
        ("[[cameras]]\nid = 'door'\nhousehold = 'home'", "cameras[0].source: missing"),
        ("[[cameras]]\nid = 'door'\nhousehold = 'home'\nsource = '  '", "cameras[0].source:"),
        ("[ports]\ns3 = 70000", "ports.s3: bad port 70000 (1-65535)"),
        ("[ports]\nnotify = 0", "ports.notify: bad port 0 (1-65535)"),
        ("[ports]\ndetect = 'x'", "ports.detect:"),
        ("[smtp]\nhost = 'mail'\nport = 99999", "smtp.port: bad port 99999 (1-65535)"),
        ("[smtp]\nhost = 'mail'\nsecurity = 'tls'", "smtp.security:"),
        ("[smtp]\nport = 25", "smtp.host: missing"),
        ("[ports]\ndetect = 9000\nnotify = 9000", "ports.notify: port 9000 is also ports.detect"),
        (
            "[[cameras]]\nid = 'door'\nhousehold = 'nobody'\nsource = '0'",
            "cameras[0].household: unknown household 'nobody'",
        ),
        (
            "[[cameras]]\nid = 'door'\nhousehold = 'home'\nsource = '0'\n"
            "[[cameras]]\nid = 'door'\nhousehold = 'home'\nsource = '1'",
            "cameras[1].id: camera 'door' is listed twice",
        ),
        ("[households.Home]", "households.Home: 'Home' is not valid here (lowercase a-z"),
        (
            "[households.home]\nrecipients = ['nobody']",
            "households.home.recipients[0]: 'nobody' is not valid",
        ),
        (
            "[households.home]\ntimezone = 'Mars/Olympus'",
            "households.home.timezone: unknown time zone 'Mars/Olympus'",
        ),
        ("x = [", "not valid TOML:"),
    ],
)
def test_each_mistake_is_one_clear_line(text: str, line: str):
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(line), found


def test_every_mistake_is_reported_at_once():
    found = problems("colour = 1\n[ports]\ns3 = 0\n[[cameras]]\nid = 'a'\nhousehold = 'home'\n")
    assert sorted(found) == [
        "cameras[0].source: missing",
        "colour: unknown key",
        "ports.s3: bad port 0 (1-65535)",
    ]


def test_the_password_never_goes_in_the_config():
    (line,) = problems("[smtp]\nhost = 'mail'\npassword = 'hunter2'")
    assert line.startswith("smtp.password: the password never goes in the config")
    assert "hunter2" not in line


def test_a_login_needs_a_password():
    (line,) = problems("[smtp]\nhost = 'mail'\nuser = 'me'")
    assert line == "smtp.user: no password: set FACEWATCH_SMTP_PASSWORD or smtp.password_file"


def test_the_password_comes_from_the_environment():
    loaded = parse_config("[smtp]\nhost = 'mail'\nuser = 'me'", env_password="from-env")
    assert loaded.smtp_password == "from-env"


def test_the_password_comes_from_an_owner_only_file(tmp_path: Path):
    secret = tmp_path / "smtp-password"
    secret.write_text("from-file\n")
    secret.chmod(0o600)
    text = f"[smtp]\nhost = 'mail'\nuser = 'me'\npassword_file = '{secret}'"
    assert parse_config(text, env_password="from-env").smtp_password == "from-file"


def test_a_password_file_others_may_read_is_refused(tmp_path: Path):
    secret = tmp_path / "smtp-password"
    secret.write_text("from-file\n")
    secret.chmod(0o640)
    (line,) = problems(f"[smtp]\nhost = 'mail'\npassword_file = '{secret}'")
    assert line == f"smtp.password_file: {secret} may be read by others (mode 640): chmod 600 it"


def test_an_unreadable_password_file_is_one_line(tmp_path: Path):
    missing = tmp_path / "nope"
    (line,) = problems(f"[smtp]\nhost = 'mail'\npassword_file = '{missing}'")
    assert line == f"smtp.password_file: unreadable password file {missing} (No such file or directory)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_password_file_without_read_permission_is_one_line(tmp_path: Path):
    secret = tmp_path / "smtp-password"
    secret.write_text("x")
    secret.chmod(0o000)
    (line,) = problems(f"[smtp]\nhost = 'mail'\npassword_file = '{secret}'")
    assert line == f"smtp.password_file: unreadable password file {secret} (Permission denied)"


def test_an_unreadable_config_file_is_one_line(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.toml")
    assert caught.value.problems == ["cannot read the config file (No such file or directory)"]


# --- facewatch up --check --------------------------------------------------------------------


def test_check_accepts_a_good_config(tmp_path: Path):
    path = tmp_path / "home.toml"
    path.write_text(GOOD)
    result = CliRunner().invoke(main, ["up", "--check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "config OK: 2 household(s), 2 camera(s)" in result.output


def test_check_prints_one_line_per_mistake_and_fails(tmp_path: Path):
    path = tmp_path / "home.toml"
    path.write_text("colour = 1\n[ports]\ns3 = 0\n")
    result = CliRunner().invoke(main, ["up", "--check", "--config", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert sorted(lines) == [
        f"error: {path}: colour: unknown key",
        f"error: {path}: ports.s3: bad port 0 (1-65535)",
    ]
