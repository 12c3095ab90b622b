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

    [web]                                        # the one door the household's phones open
    listen = "0.0.0.0:8443"                      # "127.0.0.1:8443" keeps it on this box
    public_url = "https://doorbox.local:8443"    # default https://<hostname>.local:<port>
    tls = "self-signed"                          # or { cert_file = …, key_file = … }, or "off"
    trusted_proxies = ["127.0.0.1"]              # tls = "off": who may say X-Forwarded-Proto
    cameras = false                              # true: detect too, for cameras that POST frames

The SMTP password is never in the config file: it comes from FACEWATCH_SMTP_PASSWORD (read
by config.Settings, the only reader of the environment) or from a file that only its
owner may read."""

from __future__ import annotations

import ipaddress
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

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


class TlsFiles(_Strict):
    """A certificate of the person's own (a chain in PEM, the door's first) and its key."""

    cert_file: Path
    key_file: Path


class WebConfig(_Strict):
    """The door (local/up/door.py): the one server the LAN reaches, for the console, the
    feedback pages and the pictures the alert links show."""

    listen: str = "0.0.0.0:8443"
    """address:port the door binds ("[::]:8443" for IPv6); 127.0.0.1 keeps it on this box."""
    public_url: str | None = None
    """The address the household's devices use; every alert link starts with it. None:
    https://<hostname>.local:<port> (announced by mDNS), or https://127.0.0.1:<port> when
    the door listens on loopback only."""
    tls: Literal["self-signed", "off"] | TlsFiles = "self-signed"
    """self-signed (made in DATA/tls on first start), the person's own cert_file and
    key_file, or off: behind the person's own reverse proxy, which speaks TLS."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """With tls = "off" (and required then): the proxies (addresses or networks) whose X-Forwarded-Proto and
    X-Forwarded-Host are believed; everyone else's are dropped."""
    allow_http: bool = False
    """With tls = "off": allow a public_url of http:// (cookies and links then travel in clear)."""
    cameras: bool = False
    """Serve detect at <public_url>/detect too, for cameras that POST frames, each with its
    household's detect token."""

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_choice(cls, value: object) -> object:
        # One line for one mistake, not one per member of the union.
        if isinstance(value, str) and value in ("self-signed", "off"):
            return value
        if isinstance(value, dict):
            try:
                return TlsFiles.model_validate(value)
            except ValidationError as exc:
                raise ValueError("; ".join(_describe(e) for e in exc.errors())) from None
        raise ValueError(f'{value!r}: use "self-signed", "off" or {{ cert_file = "…", key_file = "…" }}')

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if split_listen(value)[1] is None:
            raise ValueError(f"{value!r} is not address:port (e.g. 0.0.0.0:8443)")
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ValueError(f"{value!r} is not a URL (https://host[:port][/path])")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r}: a public URL has no ?query or #fragment")
        return value.strip().rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or network") from None
            try:
                ipaddress.ip_network(item)
            except ValueError:
                # gunicorn reads the list strictly: the door would not start, in its words.
                raise ValueError(f"{item!r} has host bits set: write the network, {network}") from None
        return value

    @model_validator(mode="after")
    def _tls_and_scheme(self) -> WebConfig:
        scheme = urlsplit(self.public_url).scheme if self.public_url else "https"
        if self.tls == "off":
            if self.public_url is None:
                raise ValueError('public_url: required with tls = "off" (the address of your reverse proxy)')
            if scheme == "http" and not self.allow_http:
                raise ValueError(
                    "public_url: http:// sends the console's cookie and every link in clear: "
                    "use https:// (your proxy's), or set allow_http = true if you mean it"
                )
            if not self.trusted_proxies:
                # Without it no X-Forwarded-Proto is believed: the cookie would not be Secure.
                raise ValueError('trusted_proxies: required with tls = "off" (your reverse proxy\'s address)')
            return self
        if scheme == "http":
            raise ValueError('public_url: http:// but the door speaks https: use https://, or tls = "off"')
        if self.trusted_proxies:
            raise ValueError('trusted_proxies: only with tls = "off" (the door itself speaks TLS)')
        return self

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1] or 8443

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    def url(self, hostname: str) -> str:
        """The public URL: the config's, or the default for this host (no trailing slash)."""
        if self.public_url is not None:
            return self.public_url
        name = "127.0.0.1" if self.loopback_only else f"{hostname}.local"
        return f"https://{name}" + ("" if self.port == 443 else f":{self.port}")


def split_listen(value: str) -> tuple[str, int | None]:
    """("0.0.0.0", 8443) from "0.0.0.0:8443", ("::", 8443) from "[::]:8443"; port None when
    VALUE is not address:port of an IP address (or localhost) and a port 1-65535."""
    host, colon, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
        return host, None
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host, None
    return host, int(port)


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
    web: WebConfig = Field(default_factory=WebConfig)


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
    if loc == ("web",) and message.split(":", 1)[0] in WebConfig.model_fields:
        return f"web.{message}"  # a check across the section's keys names the key it is about
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
    problems += _check_web(config.web, by_port)
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


def _check_web(web: WebConfig, by_port: dict[int, str]) -> list[str]:
    """The door's port against the 127.0.0.1 ones, and a certificate of the person's own:
    readable, matching its key, not expired (local/up/tls.py)."""
    problems = []
    if web.port in by_port and (web.loopback_only or web.host in ("0.0.0.0", "::")):
        problems.append(f"web.listen: port {web.port} is also ports.{by_port[web.port]}")
    if isinstance(web.tls, TlsFiles):
        from facewatch.local.up.tls import check_pair

        problems += [f"web.tls.{problem}" for problem in check_pair(web.tls.cert_file, web.tls.key_file)]
    return problems


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
