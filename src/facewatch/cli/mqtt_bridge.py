"""`facewatch mqtt-bridge`: the away switch's bridge to Home Assistant (alerts/mqtt_bridge.py),
a process that runs until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
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
    help="A household whose away switch this bridge serves (repeat for more).",
)
@click.option(
    "--mqtt-url",
    default=None,
    help="The broker Home Assistant's switch is on [default: FACEWATCH_MQTT_URL].",
)
def mqtt_bridge_command(households: tuple[str, ...], mqtt_url: str | None) -> None:
    """Serve the households' away switches over MQTT: a command on
    <prefix>/<household>/armed/set (ON or OFF) arms or disarms the household, and the
    state is published, retained, on <prefix>/<household>/armed."""
    from facewatch.alerts.mqtt_bridge import run_bridge
    from facewatch.alerts.mqtt_link import deployment_broker
    from facewatch.store.storage import Storage

    settings = get_settings()
    try:
        for household in households:
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
    run_bridge(storage, settings, broker, list(dict.fromkeys(households)), stop)
