"""The config file of `facewatch up`: TOML, read with tomllib, checked in full before
anything starts. Every mistake is one line naming where it is ("cameras[0].source: ...");
all of them are reported at once, so one run of `facewatch up --check` finds them all.

    [households.home]
    recipients = ["me@example.org"]
    timezone = "Europe/Berlin"

    [[cameras]]
    id = "front-door"
    household = "home"
    source = "rtsp://192.168.1.20:554/stream1"   # or http://…, a webcam index, a file

    [smtp]
    host = "smtp.example.org"
    port = 587
    security = "starttls"                        # none, starttls or ssl
    user = "me@example.org"
    password_file = "~/.config/facewatch/smtp-password"   # or FACEWATCH_SMTP_PASSWORD
    from = "facewatch@example.org"

    [ports]                                      # 127.0.0.1 ports, all optional
    s3 = 8333
    detect = 8081

The SMTP password is never in the config file: it comes from FACEWATCH_SMTP_PASSWORD (read
by config.Settings, the only reader of the environment) or from a file that only its
owner may read."""

from __future__ import annotations

import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from facewatch.exceptions import BadInput
from facewatch.household.addresses import check_recipients

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Port = Annotated[int, Field(ge=1, le=65535)]
DEFAULT_HOUSEHOLD = "home"


class ConfigError(BadInput):
    """The config file has mistakes; `problems` holds one line for each."""

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        where = f"{path}: " if path is not None else ""
        super().__init__("\n".join(f"{where}{problem}" for problem in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class HouseholdConfig(_Strict):
    """One household: who gets its alerts, and the time zone they are shown in."""

    recipients: list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(
        default_factory=list
    )
    """Empty: keep what the household has (`facewatch household --mail-to`)."""
    timezone: str | None = None
    """None: keep what the household has (`facewatch household --timezone`), else UTC."""

    @field_validator("recipients")
    @classmethod
    def _mail_addresses(cls, value: list[str]) -> list[str]:
        try:
            return check_recipients(value)
        except BadInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class CameraConfig(_Strict):
    """One camera and the household it belongs to; `source` is what `facewatch agent
    --source` takes: an RTSP or HTTP URL, a webcam index or device, or a video file."""

    id: Identifier
    household: Identifier
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class SmtpConfig(_Strict):
    """The mail server alerts go through. The password is not here (module docstring)."""

    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    port: Port = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    user: str | None = None
    password_file: Path | None = None
    mail_from: str = Field("facewatch@localhost", alias="from")


class PortsConfig(_Strict):
    """The fixed 127.0.0.1 ports: seaweedfs's S3 gateway and the five functions."""

    s3: Port = 8333
    detect: Port = 8081
    recognize: Port = 8082
    notify: Port = 8083
    feedback: Port = 8084
    console: Port = 8085


class HomeConfig(_Strict):
    """The whole config file."""

    households: dict[Identifier, HouseholdConfig] = Field(
        default_factory=lambda: {DEFAULT_HOUSEHOLD: HouseholdConfig()}
    )
    cameras: list[CameraConfig] = Field(default_factory=list)
    smtp: SmtpConfig | None = None
    ports: PortsConfig = Field(default_factory=PortsConfig)
    sweep_seconds: float = Field(60.0, ge=1, le=3600)
    """How often frames without a result are looked for and judged (local/up/sweep.py)."""


@dataclass(frozen=True)
class LoadedConfig:
    """A checked config with the SMTP password resolved (None: no login)."""

    config: HomeConfig
    smtp_password: str | None


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # a bad dict key: its path already ends with it
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        if loc and loc[-1] == "password":
            return (
                f"{_where(loc)}: the password never goes in the config: "
                "use password_file or FACEWATCH_SMTP_PASSWORD"
            )
        return f"{_where(loc)}: unknown key"
    if kind == "missing":
        return f"{_where(loc)}: missing"
    if kind in ("greater_than_equal", "less_than_equal") and loc and loc[0] in ("ports", "smtp"):
        return f"{_where(loc)}: bad port {error['input']!r} (1-65535)"
    if kind == "string_pattern_mismatch":
        wanted = "an email address" if "recipients" in loc else "lowercase a-z, 0-9, '-', '_'"
        return f"{_where(loc)}: {error['input']!r} is not valid here ({wanted})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{_where(loc)}: {message}"


def _password_from_file(path: Path) -> str:
    path = path.expanduser()
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"smtp.password_file: unreadable password file {path} ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"smtp.password_file: {path} may be read by others (mode {stat.S_IMODE(mode):o}): chmod 600 it"
        )
    password = text.strip()
    if not password:
        raise ValueError(f"smtp.password_file: {path} is empty")
    return password


def check_config(config: HomeConfig, env_password: str | None) -> tuple[list[str], str | None]:
    """What is wrong across sections (a camera of an unknown household, two cameras with one
    id, two services on one port, a login without a password), and the SMTP password."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for n, camera in enumerate(config.cameras):
        if camera.household not in config.households:
            problems.append(f"cameras[{n}].household: unknown household {camera.household!r}")
        if (camera.household, camera.id) in seen:
            problems.append(f"cameras[{n}].id: camera {camera.id!r} is listed twice")
        seen.add((camera.household, camera.id))
    by_port: dict[int, str] = {}
    for name, port in config.ports.model_dump().items():
        if port in by_port:
            problems.append(f"ports.{name}: port {port} is also ports.{by_port[port]}")
        by_port.setdefault(port, name)
    password: str | None = None
    if config.smtp is not None:
        if config.smtp.password_file is not None:
            try:
                password = _password_from_file(config.smtp.password_file)
            except ValueError as exc:
                problems.append(str(exc))
        else:
            password = env_password
        if config.smtp.user and password is None and config.smtp.password_file is None:
            problems.append("smtp.user: no password: set FACEWATCH_SMTP_PASSWORD or smtp.password_file")
    return problems, password


def parse_config(text: str, path: Path | None = None, env_password: str | None = None) -> LoadedConfig:
    """The config in TEXT, checked; ConfigError with one line per mistake otherwise."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    try:
        config = HomeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e) for e in exc.errors()]) from None
    problems, password = check_config(config, env_password)
    if problems:
        raise ConfigError(path, problems)
    return LoadedConfig(config, password)


def load_config(path: Path | None, env_password: str | None = None) -> LoadedConfig:
    """The config file at PATH (None: one household `home`, no cameras, mail to an outbox)."""
    if path is None:
        return LoadedConfig(HomeConfig(), env_password)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the config file ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, ["not UTF-8 text"]) from None
    return parse_config(text, path, env_password)
