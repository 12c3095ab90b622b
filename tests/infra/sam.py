"""The SAM template as the infra tests read it: decoded (cfn-lint's YAML reader, which knows
the short intrinsic forms), transformed offline by samtranslator, and each function's IAM
role flattened into action -> resources."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str
from samtranslator.translator.transform import transform

from tests.infra.helpers import INFRA

TEMPLATE = INFRA / "aws" / "template.yaml"
# What `sam build` / `sam deploy` put in place of each image function's build Metadata.
FAKE_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/facewatch:{target}"
BUCKET_NAME = "${BucketNamePrefix}-${AWS::AccountId}-${AWS::Region}"
BUCKET_ARN = "arn:${AWS::Partition}:s3:::" + BUCKET_NAME
OBJECT_ARN = BUCKET_ARN + "/"


def decoded_template() -> dict[str, Any]:
    decoded, matches = decode_str(TEMPLATE.read_text())
    assert not matches, matches
    return json.loads(json.dumps(decoded))


def function_ids(template: dict[str, Any]) -> dict[str, str]:
    """Function name (its image's build target) -> logical id of its AWS::Serverless::Function."""
    return {
        resource["Metadata"]["DockerBuildTarget"]: logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


FUNCTION_IDS = function_ids(decoded_template())


class NoManagedPolicies:
    """samtranslator asks this for the ARNs of managed policies named in Policies; the
    template names none (the roles' AWSLambdaBasicExecutionRole is added as an ARN)."""

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would submit (images as if already pushed)."""
    sam = copy.deepcopy(template)
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            target = resource["Metadata"]["DockerBuildTarget"]
            resource["Properties"]["ImageUri"] = FAKE_IMAGE.format(target=target)
    with pytest.MonkeyPatch.context() as mp:
        # samtranslator reads the region from a boto3 session (no call is made)
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)
        return transform(sam, {}, NoManagedPolicies())


def resources_of(cfn: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == type_}


def as_text(value: Any) -> str:
    """An ARN written as a string, !Sub or !Sub [template, vars]: its template text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return json.dumps(value, sort_keys=True)


def role_statements(cfn: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    """Every statement of the function's role, both branches of any Fn::If included."""
    role_ref = cfn["Resources"][function_id]["Properties"]["Role"]
    role = cfn["Resources"][role_ref["Fn::GetAtt"][0]]
    statements: list[dict[str, Any]] = []

    def walk(policy: Any) -> None:
        if isinstance(policy, dict) and "Fn::If" in policy:
            for branch in policy["Fn::If"][1:]:
                walk(branch)
        elif isinstance(policy, dict) and "PolicyDocument" in policy:
            found = policy["PolicyDocument"]["Statement"]
            statements.extend(found if isinstance(found, list) else [found])

    for policy in role["Properties"].get("Policies", []):
        walk(policy)
    return statements


def grants(statements: list[dict[str, Any]]) -> dict[str, list[str]]:
    """action -> resources it is allowed on (as ARN template text)."""
    out: dict[str, list[str]] = {}
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for action in actions:
            out.setdefault(action, []).extend(as_text(r) for r in resources)
    return out
