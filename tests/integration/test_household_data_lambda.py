"""The console's "Download everything" and "Erase everything" on AWS Lambda, where the
console's role may not read or delete a whole household: both handed to
HouseholdDataFunction (tenant/household_jobs.py). A real S3 server (moto's, over HTTP)
holds the bucket; the Lambda invocations are moto's (no Docker: an invocation is answered
with what the test queued, which is what the function's real code returned here)."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadInput, StorageError
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import exports_prefix, household_prefix
from facewatch.store.storage import Storage
from facewatch.tenant import erase as erase_module
from facewatch.tenant.erase import left_under
from facewatch.tenant.household_jobs import run_job
from facewatch.web.console import household_data
from facewatch.web.transport import Forbidden

pytestmark = pytest.mark.integration

FUNCTION = "facewatch-household-data"
SETTINGS = Settings()


class Clock:
    """Lambda's time left: `plenty` seconds for the first `calls` readings, then little."""

    def __init__(self, calls: int, plenty: float = 900, little: float = 5) -> None:
        self.calls, self.plenty, self.little = calls, plenty, little

    def __call__(self) -> float:
        self.calls -= 1
        return self.plenty if self.calls >= 0 else self.little


def photos(storage: Storage, count: int) -> None:
    for i in range(count):
        storage.put(
            f"{household_prefix('home')}known/Ann/photo-{i:03d}.jpg", b"jpeg", content_type="image/jpeg"
        )


@pytest.fixture
def household(storage: Storage) -> Storage:
    storage.client.put_bucket_versioning(Bucket=storage.bucket, VersioningConfiguration={"Status": "Enabled"})
    save_household_settings(storage, "home", HouseholdSettings(retention_days=9))
    photos(storage, 1)
    storage.put(f"{household_prefix('next-door')}settings.json", b"{}")
    return storage


@pytest.fixture
def on_lambda(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Iterator[Any]:
    """The console as the template deploys it: on Lambda, with HouseholdDataFunction named;
    moto's Lambda answering the invocations (its queue of answers returned)."""
    import boto3
    from moto import mock_aws
    from moto.awslambda_simple.models import lambda_simple_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "facewatch-console")
    monkeypatch.setenv("FACEWATCH_HOUSEHOLD_DATA_FUNCTION", FUNCTION)
    get_settings.cache_clear()  # the process's settings are read once
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="household-data", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        boto3.client("lambda", region_name="us-east-1").create_function(
            FunctionName=FUNCTION,
            Role=role,
            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/facewatch:household-data"},
            PackageType="Image",
        )
        yield lambda_simple_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].lambda_simple_results_queue
    get_settings.cache_clear()


def test_the_console_hands_a_presigned_link_to_the_export_the_function_made(household: Storage, on_lambda):
    made = run_job(
        {"action": "export", "household": "home"},
        household,
        SETTINGS,
        seconds_left=Clock(99),
        function_name=FUNCTION,
    )
    assert made["key"].startswith(exports_prefix("home")) and made["key"].endswith(".zip")
    on_lambda.append(json.dumps(made))

    reply = household_data.export(household, "home")

    assert reply.status == 303 and reply.headers["Cache-Control"] == "no-store"
    assert not on_lambda, "the console invoked the function"
    with urllib.request.urlopen(reply.headers["Location"], timeout=10) as got:
        archive = zipfile.ZipFile(io.BytesIO(got.read()))
    names = set(archive.namelist())
    assert {"manifest.json", "settings.json", "known/Ann/photo-000.jpg"} <= names
    assert not any("next-door" in n for n in names)


@pytest.mark.parametrize(
    "answer",
    [json.dumps({"key": "exports/next-door/x.zip"}), json.dumps({"errorMessage": "boom"}), "not json"],
    ids=["another-households-key", "function-error", "garbage"],
)
def test_an_export_that_did_not_come_back_right_is_refused_with_the_command_to_run(
    household: Storage, on_lambda, answer: str
):
    on_lambda.append(answer)
    with pytest.raises(StorageError, match="facewatch household export"):
        household_data.export(household, "home")


def test_the_console_starts_the_erasure_there_and_the_function_finishes_it_in_several_runs(
    household: Storage, on_lambda
):
    photos(household, 150)  # more than a hundred: a run can stop part way
    on_lambda.append("")
    household_data.erase(household, SETTINGS, "home", {"confirm": "home"})
    assert not on_lambda, "the console invoked the function"
    assert left_under(household, household_prefix("home")) > 0, "nothing is deleted by the console itself"

    # The function's first run runs out of time part way (after its first hundred) and
    # hands the rest on.
    export = run_job(
        {"action": "export", "household": "home"},
        household,
        SETTINGS,
        seconds_left=Clock(99),
        function_name=FUNCTION,
    )["key"]
    handed: list[dict[str, Any]] = []
    first = run_job(
        {"action": "erase", "household": "home"},
        household,
        SETTINGS,
        seconds_left=Clock(1),
        function_name=FUNCTION,
        invoke=lambda name, event: handed.append(event),
    )
    assert first["handed_on"] and first["erased"] == 100 and first["left"] > 0
    assert handed == [{"action": "erase", "household": "home", "topics_cleared": True}]

    second = run_job(
        handed[0],
        household,
        SETTINGS,
        seconds_left=Clock(10_000),
        function_name=FUNCTION,
        invoke=lambda name, event: handed.append(event),
    )
    assert not second["handed_on"] and second["left"] == 0 and len(handed) == 1
    assert left_under(household, household_prefix("home")) == 0
    assert left_under(household, exports_prefix("home")) == 0 and export
    assert left_under(household, household_prefix("next-door")) > 0


def test_the_erasure_is_refused_on_lambda_without_the_household_id_typed_again(household: Storage, on_lambda):
    on_lambda.append("")
    with pytest.raises(BadInput, match="type the household id"):
        household_data.erase(household, SETTINGS, "home", {"confirm": "hom"})
    assert on_lambda == [""], "nothing was invoked"


def test_without_the_function_the_console_on_lambda_refuses_and_names_the_commands(
    household: Storage, on_lambda, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("FACEWATCH_HOUSEHOLD_DATA_FUNCTION")
    get_settings.cache_clear()
    with pytest.raises(Forbidden, match="facewatch household export / erase"):
        household_data.export(household, "home")


@pytest.mark.parametrize(
    "event", [{"action": "export", "household": "../x"}, {"action": "delete", "household": "home"}, []]
)
def test_the_function_refuses_an_event_it_does_not_know(household: Storage, event: Any):
    with pytest.raises(BadInput):
        run_job(event, household, SETTINGS, seconds_left=Clock(9), function_name=FUNCTION)


def test_an_erasure_margin_is_what_stops_it():
    assert erase_module.ERASE_MARGIN > 5  # Clock's "little" is below it
