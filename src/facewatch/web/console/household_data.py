"""The console's settings page, for the household's data as a whole: "download
everything" (tenant/export.py) and erasure behind the household id typed again
(tenant/erase.py); the page's CSRF token and same-origin check come first, as for any form.

Not on AWS Lambda: there the console's role reaches only the parts of a household's folder
its pages need, on purpose (a public function that could read or delete all of every
household's data), so both are refused with the command that does them; on the one-box,
compose and Kubernetes every function has the bucket's one identity anyway."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.store.storage import Storage
from facewatch.web.transport import Forbidden, Reply


def _not_on_lambda() -> None:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise Forbidden(
            "Here your operator exports and erases households (facewatch household export / erase): "
            "ask them. Nothing was changed."
        )


def export(storage: Storage, household: str) -> Reply:
    from facewatch.tenant.export import export_household

    _not_on_lambda()

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

    _not_on_lambda()
    typed = form.get("confirm", "").strip()
    if typed != household:
        raise BadInput(f"type the household id ({household}) to erase it: nothing was erased")
    erase_household(storage, settings, household)
