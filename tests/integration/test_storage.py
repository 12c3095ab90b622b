"""The storage layer against a real S3 server over HTTP: its contract (storage_contract.py) on
the suite's S3 server, and what an unreachable server is."""

import boto3
import pytest
from botocore.config import Config

from facewatch.exceptions import StorageError
from facewatch.store.storage import Storage
from tests.integration.storage_contract import contract_tests

pytestmark = pytest.mark.integration

globals().update(contract_tests())


def test_an_unreachable_server_is_a_storage_error_not_a_crash(aws_env):
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(StorageError, match="unreachable"):
        Storage(client, "facewatch").get("households/h/x.jpg")
