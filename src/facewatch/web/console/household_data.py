"""The console's settings page, for the household's data as a whole: "download
everything" (tenant/export.py) and erasure behind the household id typed again
(tenant/erase.py); the page's CSRF token and same-origin check come first, as for any form.

On AWS Lambda the console's role reaches only the parts of a household's folder its pages
need, on purpose (a public function that could read or delete all of every household's
data), so both are handed to the template's HouseholdDataFunction
(tenant/household_jobs.py, FACEWATCH_HOUSEHOLD_DATA_FUNCTION): the export is made there
while the console waits, into the bucket, and handed over as a presigned link; the erasure
runs there on its own, in as many invocations as it takes. Without that function both are
refused with the commands that do them. On the one-box, compose and Kubernetes every
function has the bucket's one identity, and the console does both itself."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadInput, StorageError
from facewatch.layout import exports_prefix
from facewatch.store.storage import Storage
from facewatch.web.transport import Forbidden, Reply

EXPORT_WAIT_SECONDS = 100
"""How long the console (120 s on Lambda) waits for HouseholdDataFunction's export."""
EXPORT_LINK_SECONDS = 900


def _on_lambda() -> str | None:
    """The function that exports and erases for the console on Lambda; None elsewhere.
    Refused on Lambda without one."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    function = get_settings().household_data_function
    if not function:
        raise Forbidden(
            "Here your operator exports and erases households (facewatch household export / erase): "
            "ask them. Nothing was changed."
        )
    return function


def _lambda_client(read_timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=read_timeout, retries={"max_attempts": 0})
    return boto3.client("lambda", region_name=get_settings().region, config=config)


def _export_elsewhere(storage: Storage, function: str, household: str) -> Reply:
    from botocore.exceptions import BotoCoreError, ClientError

    event = {"action": "export", "household": household}
    try:
        out = _lambda_client(EXPORT_WAIT_SECONDS).invoke(
            FunctionName=function, Payload=json.dumps(event).encode()
        )
        answer = json.loads(out["Payload"].read() or b"{}")
    except (BotoCoreError, ClientError, ValueError) as exc:
        raise StorageError(
            f"the export could not be made here ({type(exc).__name__}); your operator can make it "
            "with facewatch household export. Nothing was changed."
        ) from None
    key = answer.get("key") if isinstance(answer, dict) and not out.get("FunctionError") else None
    if not isinstance(key, str) or not key.startswith(exports_prefix(household)):
        raise StorageError(
            "the export could not be made here; your operator can make it with facewatch household "
            "export. Nothing was changed."
        )
    return Reply(
        303, "", {"Location": storage.presigned_url(key, EXPORT_LINK_SECONDS), "Cache-Control": "no-store"}
    )


def export(storage: Storage, household: str) -> Reply:
    from facewatch.tenant.export import export_household

    function = _on_lambda()
    if function is not None:
        return _export_elsewhere(storage, function, household)

    out = io.BytesIO()
    export_household(storage, household, out)
    name = f"facewatch-{household}-{datetime.now(UTC):%Y%m%d}.zip"
    return Reply(
        200,
        out.getvalue(),
        {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def erase(storage: Storage, settings: Settings, household: str, form: Mapping[str, str]) -> None:
    """Erase the household when the form repeats its id exactly; refused otherwise, with
    nothing deleted."""
    from facewatch.tenant.erase import erase_household

    function = _on_lambda()
    typed = form.get("confirm", "").strip()
    if typed != household:
        raise BadInput(f"type the household id ({household}) to erase it: nothing was erased")
    if function is not None:
        event = {"action": "erase", "household": household}
        try:
            _lambda_client(10).invoke(
                FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode()
            )
        except Exception as exc:  # botocore's: nothing was started
            raise StorageError(
                f"the erasure could not be started ({type(exc).__name__}): nothing was erased"
            ) from None
        return
    erase_household(storage, settings, household)
