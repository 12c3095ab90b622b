"""`facewatch mqtt-bridge`: the away switch's bridge to Home Assistant (alerts/mqtt_bridge.py),
a process that runs until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import BadInput, FacewatchError
from facewatch.layout import check_id

log = logging.getLogger(__name__)


@click.command()
@click.option(
    "--household",
    "households",
    multiple=True,
    required=True,
    help="A household whose away switch this bridge serves (repeat, or separate with commas).",
)
@click.option(
    "--mqtt-url",
    default=None,
    help="The broker Home Assistant's switch is on [default: FACEWATCH_MQTT_URL].",
)
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Touched every --sync-seconds while connected to the broker, for a container's health check.",
)
@click.option(
    "--sync-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="How often a change made in the console or the CLI is read from the bucket and published.",
)
def mqtt_bridge_command(
    households: tuple[str, ...], mqtt_url: str | None, heartbeat_file: Path | None, sync_seconds: float
) -> None:
    """Serve the households' away switches over MQTT: a command on
    <prefix>/<household>/armed/set (ON or OFF) arms or disarms the household, and the
    state is published, retained, on <prefix>/<household>/armed. Where a household has
    presence on, a person last seen longer ago than its away time is published as
    not_home on <prefix>/<household>/presence/<name>."""
    from facewatch.alerts.mqtt_bridge import run_bridge
    from facewatch.alerts.mqtt_link import deployment_broker
    from facewatch.store.storage import Storage

    settings = get_settings()
    served = list(dict.fromkeys(h.strip() for value in households for h in value.split(",") if h.strip()))
    try:
        if not served:
            raise BadInput("--household: name at least one household")
        for household in served:
            check_id(household, "household")
        broker = deployment_broker(settings, mqtt_url)
        if broker is None:
            raise BadInput("no broker: set FACEWATCH_MQTT_URL or --mqtt-url")
        storage = Storage.from_settings(settings)
    except FacewatchError as exc:
        fail(exc)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("facewatch").setLevel(logging.INFO)  # a service: say what it does
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    run_bridge(storage, settings, broker, served, stop, heartbeat=heartbeat_file, sync_seconds=sync_seconds)
