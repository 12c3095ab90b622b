"""The retention sweep over a deployment's households (household/retention.py sweeps one):
the one loop `facewatch retention`, `facewatch up`'s sweep thread and the AWS template's
scheduled RetentionFunction run.

On Lambda a run is bounded by the function's timeout: before each household it checks the
time left, and when too little is left for another it hands the households not yet swept
to a new invocation of itself (asynchronous, the event `{"households": [...]}`), so a
deployment of any size is swept in one daily schedule without a cursor kept anywhere.
A household whose sweep fails (an unreadable book) is logged and tried again the next day;
the others are swept."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadInput, FacewatchError
from facewatch.household.retention import Swept, sweep_household
from facewatch.layout import check_id
from facewatch.recognize.stranger_store import remembered_strangers
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

HOUSEHOLD_SECONDS = 60.0
"""Time kept in hand before starting a household: a sweep lists and deletes in batches of
a thousand, a large household's in seconds; what is left then is handed on."""


@dataclass(frozen=True, slots=True)
class Sweeps:
    swept: list[Swept] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Households whose sweep failed (logged): the next run tries them again."""
    left: list[str] = field(default_factory=list)
    """Households not reached before the time ran out, in order."""


def sweep_households(
    storage: Storage,
    settings: Settings,
    households: Sequence[str],
    now: datetime,
    *,
    seconds_left: Callable[[], float] | None = None,
    stop_on_error: bool = False,
) -> Sweeps:
    """Sweep each household in turn; with `seconds_left`, stop while HOUSEHOLD_SECONDS are
    still in hand and return the rest as `left`. `stop_on_error` (the CLI): the first
    failure is raised rather than logged."""
    strangers = remembered_strangers(storage)
    memory = timedelta(days=settings.stranger_memory_days)
    done = Sweeps()
    for index, household in enumerate(households):
        if seconds_left is not None and seconds_left() < HOUSEHOLD_SECONDS:
            done.left.extend(households[index:])
            break
        try:
            done.swept.append(
                sweep_household(
                    storage,
                    household,
                    now,
                    strangers=strangers,
                    stranger_memory=memory,
                    expiry_days=settings.frame_expiry_days,
                )
            )
        except FacewatchError as exc:
            if stop_on_error:
                raise
            log.warning("retention: household %s: %s", household, exc)
            done.failed.append(household)
    return done


def households_of(event: object, storage: Storage) -> list[str]:
    """The households a scheduled event asks for: those a previous run handed on, or every
    one the bucket has (the schedule's own event names none)."""
    named = event.get("households") if isinstance(event, dict) else None
    if named is None:
        return storage.list_households()
    if not isinstance(named, list):
        raise BadInput("the event's households must be a list of household ids")
    return [check_id(str(h), "household") for h in named]


Invoke = Callable[[str, dict[str, Any]], None]


def _invoke_async(function_name: str, event: dict[str, Any]) -> None:
    import boto3

    boto3.client("lambda").invoke(
        FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode()
    )


def run_scheduled(
    event: object,
    storage: Storage,
    settings: Settings,
    *,
    now: datetime,
    seconds_left: Callable[[], float],
    function_name: str,
    invoke: Invoke = _invoke_async,
) -> dict[str, Any]:
    """One scheduled run: sweep, then hand on what is left to the function itself."""
    done = sweep_households(storage, settings, households_of(event, storage), now, seconds_left=seconds_left)
    if done.left:
        invoke(function_name, {"households": done.left})
        log.warning("retention: %d household(s) handed to the next invocation", len(done.left))
    return {
        "swept": [
            {"household": s.household, "deleted": s.deleted, "kept_marked": s.kept_marked} for s in done.swept
        ],
        "failed": done.failed,
        "handed_on": len(done.left),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The AWS template's RetentionFunction (an EventBridge schedule's event, or a previous
    run's hand-over)."""
    settings = get_settings()  # a refused setting stops it here, naming the variable
    return run_scheduled(
        event,
        Storage.from_settings(settings),
        settings,
        now=datetime.now(UTC),
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
    )


__all__ = ["HOUSEHOLD_SECONDS", "Sweeps", "handler", "households_of", "run_scheduled", "sweep_households"]
