"""The AWS template's HouseholdDataFunction: a household's export and erasure for the
console on Lambda, whose own role may not read or delete a whole household's folder (it
is public; this function has no URL, and only the console's role may invoke it).

- `{"action": "export", "household": H}` (invoked and waited for): the zip written to
  /tmp, then uploaded to `exports/H/<time>-<random>.zip` (layout.export_key, expired by a
  lifecycle rule after a day); answers `{"key": ...}`, which the console hands to the
  person as a presigned link.
- `{"action": "erase", "household": H}` (invoked asynchronously): the retained MQTT topics
  cleared, then every version under the household's folder and its exports deleted
  while the time lasts; what is left is handed to a new invocation of itself
  (`"topics_cleared": true`), until nothing is."""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadInput
from facewatch.layout import check_id, export_key
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], None]


def _invoke_async(function_name: str, event: dict[str, Any]) -> None:
    import boto3

    boto3.client("lambda").invoke(
        FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode()
    )


def export_to_bucket(storage: Storage, household: str, now: datetime) -> str:
    """The household's export, uploaded; its key."""
    from facewatch.tenant.export import export_household

    key = export_key(household, f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(8)}")
    with tempfile.NamedTemporaryFile(suffix=".zip") as out:
        export_household(storage, household, out)
        out.flush()
        storage.put_file(key, out.name, content_type="application/zip")
    return key


def run_job(
    event: object,
    storage: Storage,
    settings: Settings,
    *,
    seconds_left: Callable[[], float],
    function_name: str,
    invoke: Invoke = _invoke_async,
) -> dict[str, Any]:
    from facewatch.tenant.erase import erase_household

    if not isinstance(event, dict):
        raise BadInput("the event must be a JSON object")
    household = check_id(str(event.get("household", "")), "household")
    action = event.get("action")
    if action == "export":
        return {"key": export_to_bucket(storage, household, datetime.now(UTC))}
    if action == "erase":
        done = erase_household(
            storage,
            settings,
            household,
            keep_mqtt=bool(event.get("topics_cleared")),
            seconds_left=seconds_left,
        )
        if not done.finished:
            invoke(function_name, {"action": "erase", "household": household, "topics_cleared": True})
        return {
            "erased": done.objects,
            "topics": done.topics,
            "left": done.left,
            "handed_on": not done.finished,
        }
    raise BadInput(f"unknown action {action!r}: export or erase")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    return run_job(
        event,
        Storage.from_settings(settings),
        settings,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
    )


__all__ = ["export_to_bucket", "handler", "run_job"]
