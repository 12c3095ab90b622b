"""`facewatch up`: the whole pipeline at home until SIGTERM or Ctrl-C (local/up/)."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from facewatch.config import get_settings

if TYPE_CHECKING:
    from facewatch.local.up.home import HomeStack


@click.group(invoke_without_command=True)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the bucket (seaweedfs), the spools and the logs; kept across restarts.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML config: households, cameras, SMTP, ports (default: household `home`, no cameras).",
)
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write emails into this folder as .eml files instead of sending them.",
)
@click.option("--check", is_flag=True, help="Only validate the config file and exit.")
@click.option("--status", is_flag=True, help="Print the running stack's processes as one JSON object.")
@click.pass_context
def up_command(
    ctx: click.Context,
    data: Path | None,
    config_path: Path | None,
    outbox: Path | None,
    check: bool,
    status: bool,
) -> None:
    """Run seaweedfs, the functions and the config's cameras here until SIGTERM or Ctrl-C;
    `backup` and `restore` its data."""
    if ctx.invoked_subcommand is not None:
        return
    if status:
        _print_status(data)
        return
    from facewatch.local.processes import StackError
    from facewatch.local.up.config import ConfigError, load_config

    password = get_settings().smtp_password
    try:
        loaded = load_config(config_path, password.get_secret_value() if password else None)
    except ConfigError as exc:
        for problem in str(exc).splitlines():
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    config = loaded.config
    if check:
        click.echo(
            f"config OK: {len(config.households)} household(s), {len(config.cameras)} camera(s)", err=True
        )
        return
    if data is None:
        click.echo("error: --data DIR is required (where the bucket and the spools are kept)", err=True)
        sys.exit(2)

    from facewatch.local.up.home import HomeStack

    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stack = HomeStack(data, loaded, outbox=outbox)
    try:
        stack.start(say=lambda m: click.echo(m, err=True))
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in sorted(stack.exports().items()))
    click.echo("ready")
    click.echo(f"export {exports}")
    _print_door(stack)
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        click.echo("stopping: the agents, the functions, then seaweedfs", err=True)
        stack.stop()


def _print_door(stack: HomeStack) -> None:
    """What a person needs on the phone: the address, the certificate's fingerprint to
    compare with the phone's warning page, and a one-time sign-in link per household."""
    plan = stack.door_plan
    if plan is None:
        return
    click.echo(f"url {plan.console_url}")
    if plan.certificate is not None:
        click.echo(f"fingerprint SHA-256 {plan.certificate.fingerprint}")
    for household in stack.config.households:
        click.echo(f"sign-in {household} {stack.sign_in_link(household)}")


def _print_status(data: Path | None) -> None:
    import json

    from facewatch.local.up.supervisor import read_status

    if data is None:
        click.echo("error: --status needs --data DIR", err=True)
        sys.exit(2)
    found = read_status(data / "status.json")
    if found is None:
        click.echo(f"error: no facewatch up is running on {data}", err=True)
        sys.exit(1)
    found["counts"] = _counts(found.get("metrics", {}))
    click.echo(json.dumps(found))


def _counts(urls: dict[str, str]) -> dict[str, object]:
    """The functions' counters added up (telemetry/counts.py); a function that does not
    answer is left out and named."""
    import requests

    from facewatch.telemetry.counts import counts

    token = get_settings().metrics_token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    texts, silent = [], []
    for name, url in sorted(urls.items()):
        try:
            response = requests.get(url, headers=headers, timeout=5)
            response.raise_for_status()
            texts.append(response.text)
        except requests.RequestException:
            silent.append(name)
    found: dict[str, object] = dict(counts(texts))
    if silent:
        found["unanswered"] = silent
    return found
