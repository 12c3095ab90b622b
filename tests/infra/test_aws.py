"""infra/aws/template.yaml: cfn-lint finds no error, the SAM transform (run offline with
samtranslator) yields the functions, the bucket's notification to recognize with the
right filters, the asynchronous configs with on-failure queues, the public feedback and
console URLs and the generated link secret notify, feedback and console share, and IAM
policies that grant each function only what it uses (test_iam_coverage.py checks them
against the code)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from tests.infra.helpers import INFRA, REPO, build_stages, unknown_facewatch_names
from tests.infra.sam import (
    BUCKET_NAME,
    FAKE_IMAGE,
    FUNCTION_IDS,
    OBJECT_ARN,
    TEMPLATE,
    as_text,
    decoded_template,
    grants,
    resources_of,
    role_statements,
    sam_transform,
)


@pytest.fixture(scope="module")
def template_text() -> str:
    return TEMPLATE.read_text()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return decoded_template()


@pytest.fixture(scope="module")
def transformed(template) -> dict[str, Any]:
    return sam_transform(template)


# --- lint ------------------------------------------------------------------------------------


def test_cfn_lint_finds_no_error_in_the_sam_template(template_text):
    matches = lint(template_text, config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert not errors, "\n".join(errors)


def test_cfn_lint_finds_no_error_in_the_transformed_template(transformed):
    matches = lint(json.dumps(transformed), config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert not errors, "\n".join(errors)


def test_cfn_lint_is_really_checking(template_text):
    """A control: the same call does report a broken template."""
    broken = template_text.replace("MemorySize: !Ref NotifyMemorySize", "MemorySize: 12", 1)
    assert broken != template_text
    ids = {m.rule.id for m in lint(broken, config=ManualArgs(regions=["us-east-1"]))}
    assert any(i.startswith("E") for i in ids)


# --- functions and images --------------------------------------------------------------------


def test_transform_yields_every_function_as_an_image(transformed):
    functions = resources_of(transformed, "AWS::Lambda::Function")
    assert set(FUNCTION_IDS.values()) <= set(functions)
    for target, logical_id in FUNCTION_IDS.items():
        props = functions[logical_id]["Properties"]
        assert props["PackageType"] == "Image"
        assert props["Code"] == {"ImageUri": FAKE_IMAGE.format(target=target)}
        assert props["Architectures"] == ["x86_64"]
        assert "Handler" not in props and "Runtime" not in props


@pytest.mark.parametrize("target", sorted(FUNCTION_IDS))
def test_build_metadata_names_a_real_dockerfile_target(template, target):
    meta = template["Resources"][FUNCTION_IDS[target]]["Metadata"]
    context = (TEMPLATE.parent / meta["DockerContext"]).resolve()
    assert context == REPO
    dockerfile = context / meta["Dockerfile"]
    assert dockerfile.is_file()
    assert meta["DockerBuildTarget"] == target
    assert target in build_stages(dockerfile)
    assert meta.get("DockerTag")


def test_globals_and_memory_come_from_parameters(template):
    function_globals = template["Globals"]["Function"]
    assert function_globals["Architectures"] == ["x86_64"]
    assert function_globals["Timeout"] and function_globals["MemorySize"]
    for target, logical_id in FUNCTION_IDS.items():
        memory = template["Resources"][logical_id]["Properties"]["MemorySize"]
        param = memory["Ref"]
        camel = "".join(part.capitalize() for part in target.split("-"))
        assert param == f"{camel}MemorySize" and param in template["Parameters"]


def test_environment_names_are_facewatch_settings(transformed):
    for logical_id in FUNCTION_IDS.values():
        variables = transformed["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        assert not unknown_facewatch_names(variables), logical_id
        assert variables["FACEWATCH_BUCKET"] == {"Fn::Sub": BUCKET_NAME}
        assert variables["FACEWATCH_REGION"] == {"Ref": "AWS::Region"}
        assert variables["FACEWATCH_S3_ADDRESSING_STYLE"] == "virtual"


def test_parameters_are_wired_to_settings(template):
    env = {
        k: template["Resources"][v]["Properties"].get("Environment", {}).get("Variables", {})
        for k, v in FUNCTION_IDS.items()
    }
    assert env["recognize"]["FACEWATCH_MATCH_THRESHOLD"] == {"Ref": "MatchThreshold"}
    assert env["recognize"]["FACEWATCH_STRANGER_MEMORY_DAYS"] == {"Ref": "StrangerMemoryDays"}
    assert env["notify"]["FACEWATCH_ALERT_CHANNEL"] == {"Ref": "AlertChannel"}
    assert env["notify"]["FACEWATCH_MAIL_FROM"] == {"Ref": "MailFrom"}
    assert env["notify"]["FACEWATCH_MAIL_TO"] == {"Ref": "MailTo"}
    assert set(template["Parameters"]["AlertChannel"]["AllowedValues"]) == {"smtp", "ses"}
    assert template["Parameters"]["SmtpPassword"]["NoEcho"] is True
    assert template["Parameters"]["DetectToken"]["NoEcho"] is True
    assert env["detect"]["FACEWATCH_DETECT_TOKEN_SCOPE"] == {"Ref": "DetectTokenScope"}


def test_notify_feedback_and_console_share_a_generated_link_secret(template):
    """notify signs the "I know this person" and console sign-in links, feedback and console
    verify them, console signs its session cookies: one key, generated by Secrets Manager,
    in no template text or parameter."""
    env = {
        k: template["Resources"][v]["Properties"].get("Environment", {}).get("Variables", {})
        for k, v in FUNCTION_IDS.items()
    }
    reference = env["notify"]["FACEWATCH_LINK_SECRET"]
    assert env["feedback"]["FACEWATCH_LINK_SECRET"] == reference
    assert env["console"]["FACEWATCH_LINK_SECRET"] == reference
    assert reference == {"Fn::Sub": "{{resolve:secretsmanager:${LinkSecret}:SecretString}}"}
    secret = template["Resources"]["LinkSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret["Properties"], "generated, never written down"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    # only the functions that sign or verify links (and sessions) see it
    assert {f for f, variables in env.items() if "FACEWATCH_LINK_SECRET" in variables} == {
        "console",
        "feedback",
        "notify",
    }
    assert not any("LinkSecret" in name or "LINK_SECRET" in name for name in template["Parameters"])


def test_notify_links_to_the_feedback_url(template):
    variables = template["Resources"]["NotifyFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["FACEWATCH_FEEDBACK_URL"] == {"Fn::GetAtt": ["FeedbackFunctionUrl", "FunctionUrl"]}


def test_notify_links_to_the_console_url(template):
    """The emails' console links: the console's Function URL, or the ConsoleCustomUrl parameter
    (a domain of one's own in front of it), which the console is then told too. Without
    the parameter the console is not told its Function URL: that would be a circular
    dependency (the URL depends on the function), which CloudFormation refuses."""
    env = {
        k: template["Resources"][v]["Properties"].get("Environment", {}).get("Variables", {})
        for k, v in FUNCTION_IDS.items()
    }
    assert env["notify"]["FACEWATCH_CONSOLE_URL"] == {
        "Fn::If": [
            "HasConsoleCustomUrl",
            {"Ref": "ConsoleCustomUrl"},
            {"Fn::GetAtt": ["ConsoleFunctionUrl", "FunctionUrl"]},
        ]
    }
    assert env["console"]["FACEWATCH_CONSOLE_URL"] == {
        "Fn::If": ["HasConsoleCustomUrl", {"Ref": "ConsoleCustomUrl"}, {"Ref": "AWS::NoValue"}]
    }
    assert template["Conditions"]["HasConsoleCustomUrl"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleCustomUrl"}, ""]}]
    }
    assert template["Parameters"]["ConsoleCustomUrl"]["Default"] == ""
    assert {f for f, variables in env.items() if "FACEWATCH_CONSOLE_URL" in variables} == {
        "console",
        "notify",
    }


# --- the bucket and its notification ---------------------------------------------------------


def test_bucket_is_versioned_private_and_encrypted(transformed):
    bucket = transformed["Resources"]["FacesBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": BUCKET_NAME}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"
    ))  # fmt: skip
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in {"AES256", "aws:kms", "aws:kms:dsse"}
    assert bucket.get("DeletionPolicy") == "Retain"


def test_what_retention_deletes_is_gone_for_good_after_the_deleted_version_days(transformed):
    """The sweep deletes (`facewatch retention`); on the versioned bucket the old versions
    expire after DeletedVersionDays and the delete markers left behind are removed."""
    rules = {
        r["Id"]: r
        for r in transformed["Resources"]["FacesBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    noncurrent = rules["expire-noncurrent-versions"]
    assert noncurrent["Status"] == "Enabled"
    assert noncurrent["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "DeletedVersionDays"}}
    markers = rules["remove-expired-delete-markers"]
    assert markers["Status"] == "Enabled" and markers["ExpiredObjectDeleteMarker"] is True
    assert "Prefix" not in markers and "Filter" not in markers  # the whole bucket
    parameter = transformed["Parameters"]["DeletedVersionDays"]
    assert parameter["Default"] == 30 and parameter["MinValue"] == 1


def test_bucket_notifies_recognize_of_images_under_households(transformed):
    bucket = transformed["Resources"]["FacesBucket"]
    configs = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    seen = set()
    for config in configs:
        assert config["Function"] == {"Fn::GetAtt": ["RecognizeFunction", "Arn"]}
        rules = {r["Name"].lower(): r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}
        seen.add((config["Event"], rules["prefix"], rules["suffix"]))
    expected = {
        (event, "households/", suffix)
        for event in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")
        for suffix in (".jpg", ".jpeg", ".png")
    }
    assert seen == expected
    assert len(configs) == len(expected)


def test_notification_rules_do_not_overlap(transformed):
    """S3 rejects two configurations for one event type whose prefixes and suffixes overlap."""
    configs = transformed["Resources"]["FacesBucket"]["Properties"]["NotificationConfiguration"]
    rules = []
    for config in configs["LambdaConfigurations"]:
        r = {x["Name"].lower(): x["Value"] for x in config["Filter"]["S3Key"]["Rules"]}
        rules.append((config["Event"], r.get("prefix", ""), r.get("suffix", "")))
    for i, (event_a, prefix_a, suffix_a) in enumerate(rules):
        for event_b, prefix_b, suffix_b in rules[i + 1 :]:
            if event_a != event_b:
                continue
            prefixes_overlap = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
            suffixes_overlap = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
            assert not (prefixes_overlap and suffixes_overlap), (event_a, suffix_a, suffix_b)


def test_s3_may_invoke_recognize_and_the_bucket_waits_for_it(transformed):
    permissions = {
        k: v["Properties"]
        for k, v in resources_of(transformed, "AWS::Lambda::Permission").items()
        if v["Properties"].get("Principal") == "s3.amazonaws.com"
    }
    assert len(permissions) == 3
    for props in permissions.values():
        assert props["FunctionName"] == {"Ref": "RecognizeFunction"}
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    depends_on = transformed["Resources"]["FacesBucket"].get("DependsOn", [])
    assert set(permissions) <= set(depends_on if isinstance(depends_on, list) else [depends_on])


# --- asynchronous invocation and dead letters -------------------------------------------------


@pytest.mark.parametrize(("function_id", "queue_id"), [
    ("NotifyFunction", "NotifyDeadLetterQueue"),
    ("RecognizeFunction", "RecognizeDeadLetterQueue"),
])  # fmt: skip
def test_async_invocation_has_retries_and_an_on_failure_queue(transformed, function_id, queue_id):
    configs = [
        v["Properties"]
        for v in resources_of(transformed, "AWS::Lambda::EventInvokeConfig").values()
        if v["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert len(configs) == 1
    config = configs[0]
    assert config["Qualifier"] == "$LATEST"
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert transformed["Resources"][queue_id]["Type"] == "AWS::SQS::Queue"
    sends = grants(role_statements(transformed, function_id)).get("sqs:SendMessage", [])
    assert as_text({"Fn::GetAtt": [queue_id, "Arn"]}) in sends


def test_recognize_invokes_notify_asynchronously_by_name(transformed):
    variables = transformed["Resources"]["RecognizeFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["FACEWATCH_NOTIFY_FUNCTION"] == {"Ref": "NotifyFunction"}
    assert "FACEWATCH_NOTIFY_URL" not in variables
    # S3 invokes the Lambda handler directly, with no HTTP headers to carry a webhook token
    assert "FACEWATCH_WEBHOOK_TOKEN" not in variables


# --- least privilege ---------------------------------------------------------------------------


def test_no_function_has_wildcard_actions_or_resources(transformed):
    for logical_id in FUNCTION_IDS.values():
        for action, resources in grants(role_statements(transformed, logical_id)).items():
            assert "*" not in action, (logical_id, action)
            assert "*" not in resources, (logical_id, action)


def test_detect_may_only_store_frames(transformed):
    allowed = grants(role_statements(transformed, "DetectFunction"))
    s3 = {a: r for a, r in allowed.items() if a.startswith("s3:")}
    assert set(s3) == {"s3:PutObject", "s3:PutObjectTagging"}  # a frame with the lifecycle tag
    assert "s3:GetObject" not in allowed
    assert s3["s3:PutObject"] == s3["s3:PutObjectTagging"] == [OBJECT_ARN + "households/*/frames/*"]
    assert not any(a.startswith(("lambda:", "ses:")) for a in allowed)


def test_notify_reads_the_frame_writes_only_its_bookkeeping_and_sends_as_its_identity(transformed):
    allowed = grants(role_statements(transformed, "NotifyFunction"))
    s3 = {a: r for a, r in allowed.items() if a.startswith("s3:")}
    prefix = OBJECT_ARN + "households/*/"
    assert set(s3) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}
    assert set(s3["s3:GetObject"]) == {
        prefix + "frames/*",
        prefix + "settings.json",
        prefix + "alerts/sent/*",
        prefix + "alerts/claims/*",
        prefix + "alerts/faces/*",
        prefix + "alerts/home-assistant/*",
    }
    # sent marks (each alert once), claims (one sender at a time), dead letters, the face
    # an MQTT alert shows and Home Assistant's bookkeeping (devices announced, today's
    # count); never frames, results, known photos
    assert set(s3["s3:PutObject"]) == {
        prefix + "alerts/sent/*",
        prefix + "alerts/claims/*",
        prefix + "alerts/dead/*",
        prefix + "alerts/faces/*",
        prefix + "alerts/home-assistant/*",
    }
    for written in s3["s3:PutObject"]:
        assert not written.startswith((prefix + "frames", prefix + "results", prefix + "known"))
    # a failed send releases its claim; nothing else is ever deleted
    assert s3["s3:DeleteObject"] == [prefix + "alerts/claims/*"]
    ses = {a: r for a, r in allowed.items() if a.startswith("ses:")}
    identity = "arn:${AWS::Partition}:ses:${Region}:${AWS::AccountId}:identity/${SenderIdentity}"
    assert ses == {"ses:SendRawEmail": [identity]}
    assert not any(a.startswith("lambda:") for a in allowed)


def test_notify_ses_grant_only_when_ses_is_the_channel(transformed):
    role_ref = transformed["Resources"]["NotifyFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = transformed["Resources"][role_ref]["Properties"]["Policies"]
    conditional = [p for p in policies if "Fn::If" in p]
    assert len(conditional) == 1
    condition, when_true, when_false = conditional[0]["Fn::If"]
    assert condition == "UseSes"
    assert "ses:SendRawEmail" in json.dumps(when_true)
    assert when_false == {"Ref": "AWS::NoValue"}


def test_recognize_reads_and_writes_only_what_it_must(transformed):
    statements = role_statements(transformed, "RecognizeFunction")
    allowed = grants(statements)
    prefix = OBJECT_ARN + "households/*/"
    assert set(allowed["s3:GetObject"]) == {
        prefix + "frames/*",
        prefix + "known/*",
        prefix + "encodings.npz",
        prefix + "results/*",
        prefix + "state/visits.json",
        prefix + "state/strangers.json",  # the older one-object memory, moved into shards
        prefix + "state/strangers/*",
        prefix + "index/*",  # the console's day summaries, kept as results are written
        prefix + "state/arrivals.json",
        prefix + "state/questions.json",  # near-misses asked about ("Is this X?")
        prefix + "settings.json",  # the household's alert rules
        prefix + "negatives.npz",
    }
    assert set(allowed["s3:PutObject"]) == {
        prefix + "results/*",
        prefix + "encodings.npz",
        prefix + "state/visits.json",
        prefix + "state/strangers/*",
        prefix + "index/*",  # the console's day summaries, kept as results are written
        prefix + "state/arrivals.json",
        prefix + "state/questions.json",
        prefix + "strangers/*",
    }
    assert not any(r.startswith(prefix + "frames") for r in allowed["s3:PutObject"])
    # only a forgotten stranger's crops and replaced shards of the memory are ever deleted
    assert set(allowed["s3:DeleteObject"]) == {prefix + "strangers/*", prefix + "state/strangers/*"}
    assert set(allowed) - {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "lambda:InvokeFunction",
    } <= {"sqs:SendMessage"}
    assert allowed["lambda:InvokeFunction"] == [as_text({"Fn::GetAtt": ["NotifyFunction", "Arn"]})]
    assert_listing_is_limited_to_households(statements)


def assert_listing_is_limited_to_households(statements):
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert as_text(listing["Resource"]) == "arn:${AWS::Partition}:s3:::" + BUCKET_NAME
    # IfExists: the implicit ListBucket check behind a 404 for a missing key has no prefix
    assert listing["Condition"] == {"StringLikeIfExists": {"s3:prefix": "households/*"}}


def test_notify_listing_is_limited_to_households(transformed):
    assert_listing_is_limited_to_households(role_statements(transformed, "NotifyFunction"))


def test_feedback_reads_the_frame_and_writes_only_known_people_and_strangers(transformed):
    statements = role_statements(transformed, "FeedbackFunction")
    allowed = grants(statements)
    prefix = OBJECT_ARN + "households/*/"
    assert set(allowed) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}
    assert set(allowed["s3:GetObject"]) == {
        prefix + "frames/*",  # the face to crop
        prefix + "known/*",  # the rebuild reads the photos whose ETag changed
        prefix + "encodings.npz",  # compare-and-swap on its ETag
        prefix + "results/*",  # which stranger the face was
        prefix + "state/strangers.json",  # the older one-object memory, moved into shards
        prefix + "state/strangers/*",  # is the face a remembered stranger?
        prefix + "index/*",  # the console's day summaries, kept as results are written
        prefix + "strangers/*",  # then all of their crops are enrolled
        prefix + "links/used/*",  # whether the link was used already
        prefix + "negatives.npz",  # looking again judges as recognize does
    }
    assert set(allowed["s3:PutObject"]) == {
        prefix + "known/*",
        prefix + "encodings.npz",
        prefix + "state/strangers/*",  # the named stranger is forgotten
        prefix + "index/*",  # the console's day summaries, kept as results are written
        prefix + "links/used/*",  # each link is used once
        prefix + "results/*",  # look again: the past week's faces of the person now known
    }
    assert set(allowed["s3:DeleteObject"]) == {
        prefix + "strangers/*",
        prefix + "state/strangers/*",
        prefix + "links/used/*",
    }
    assert not any(r.startswith(prefix + "frames") for r in allowed["s3:PutObject"])
    assert_listing_is_limited_to_households(statements)


def test_console_reads_and_writes_its_households_folder_and_nothing_else(transformed):
    """The console shows and changes a household's folder, each part named by its layout.py
    key: never a frame written (it would be judged again), never alerts, the report, open
    visits or arrivals, nothing outside households/*/."""
    statements = role_statements(transformed, "ConsoleFunction")
    allowed = grants(statements)
    prefix = OBJECT_ARN + "households/*/"
    assert set(allowed) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "lambda:InvokeFunction",
    }
    # "Download everything" and "Erase everything" are HouseholdDataFunction's to do.
    assert allowed["lambda:InvokeFunction"] == [as_text({"Fn::GetAtt": ["HouseholdDataFunction", "Arn"]})]
    rewritten = {
        prefix + "results/*",  # "look again" relabels past verdicts
        prefix + "known/*",  # photos added
        prefix + "encodings.npz",  # rebuilt
        prefix + "state/strangers/*",  # strangers named, merged, forgotten
        prefix + "index/*",  # the console's day summaries, kept as results are written
        prefix + "strangers/*",  # a crop moved to another stranger
        prefix + "settings.json",
        prefix + "negatives.npz",  # "this is not X"
        prefix + "links/used/*",  # each sign-in link is spent once
        prefix + "sessions/*",  # a session's record: made at sign-in, read on every request
        prefix + "state/questions.json",  # a question answered leaves
    }
    # frames: to crop faces; strangers.json: the older one-object memory, moved into shards
    # exports/: the export HouseholdDataFunction made, presigned for the person
    assert set(allowed["s3:GetObject"]) == rewritten | {
        prefix + "frames/*",
        prefix + "state/strangers.json",
        OBJECT_ARN + "exports/*",
    }
    assert set(allowed["s3:PutObject"]) == rewritten
    # sessions: signing out (one, or everywhere) deletes their records
    assert set(allowed["s3:DeleteObject"]) == {
        prefix + "known/*",
        prefix + "strangers/*",
        prefix + "state/strangers/*",  # shard versions of the memory no longer named
        prefix + "sessions/*",
    }
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert len(allowed[action]) == len(set(allowed[action])), f"{action} granted twice"
        assert not any(r.startswith((prefix + "alerts", prefix + "report")) for r in allowed[action])
        # open visits and arrivals are recognize's alone
        assert not any(r.endswith(("visits.json", "arrivals.json")) for r in allowed[action])
    assert not any(r.startswith(prefix + "frames") for r in allowed["s3:PutObject"])
    assert_listing_is_limited_to_households(statements)


def test_every_s3_grant_is_on_this_bucket(transformed):
    for logical_id in FUNCTION_IDS.values():
        for action, resources in grants(role_statements(transformed, logical_id)).items():
            if action.startswith("s3:"):
                for resource in resources:
                    assert resource.startswith("arn:${AWS::Partition}:s3:::" + BUCKET_NAME), resource


# --- detect's URL ------------------------------------------------------------------------------


def public_permissions(transformed: dict[str, Any], function_id: str) -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in resources_of(transformed, "AWS::Lambda::Permission").items()
        if v["Properties"].get("Principal") == "*" and v["Properties"]["FunctionName"] == {"Ref": function_id}
    }


def test_only_detect_feedback_and_console_have_function_urls(transformed):
    urls = resources_of(transformed, "AWS::Lambda::Url")
    assert sorted(urls) == ["ConsoleFunctionUrl", "DetectFunctionUrl", "FeedbackFunctionUrl"]
    public = {
        v["Properties"]["FunctionName"]["Ref"]
        for v in resources_of(transformed, "AWS::Lambda::Permission").values()
        if v["Properties"].get("Principal") == "*"
    }
    assert public == {"DetectFunction", "FeedbackFunction", "ConsoleFunction"}


def test_detect_has_an_authenticated_function_url(template, transformed):
    urls = resources_of(transformed, "AWS::Lambda::Url")
    props = urls["DetectFunctionUrl"]["Properties"]
    assert props["TargetFunctionArn"] == {"Ref": "DetectFunction"}
    assert props["AuthType"] == {"Ref": "DetectAuthType"}
    assert template["Parameters"]["DetectAuthType"]["Default"] == "AWS_IAM"
    # A public URL gets its two resource-policy statements only under PublicDetect, and
    # a rule makes it impossible without the token detect checks.
    public = public_permissions(transformed, "DetectFunction")
    assert {v["Properties"]["Action"] for v in public.values()} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    assert all(v.get("Condition") == "PublicDetect" for v in public.values())
    assert "PublicDetectNeedsToken" in template["Rules"]


@pytest.mark.parametrize("function_id", ["FeedbackFunction", "ConsoleFunction"])
def test_browser_facing_urls_are_public(transformed, function_id):
    """Whoever got the email opens feedback's link, a household member the console, with
    no AWS credentials: the URL is public and the signed token (feedback's link; the
    console's session cookie, from a one-time sign-in link) is what authorizes. Since
    October 2025 a public URL needs both actions granted to everyone (SAM adds both for
    the literal AuthType NONE)."""
    props = resources_of(transformed, "AWS::Lambda::Url")[f"{function_id}Url"]["Properties"]
    assert props["TargetFunctionArn"] == {"Ref": function_id}
    assert props["AuthType"] == "NONE"
    public = public_permissions(transformed, function_id)
    by_action = {v["Properties"]["Action"]: v["Properties"] for v in public.values()}
    assert set(by_action) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert by_action["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert by_action["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True


def test_outputs_tell_an_edge_agent_where_to_upload(transformed):
    outputs = transformed["Outputs"]
    assert outputs["BucketName"]["Value"] == {"Ref": "FacesBucket"}
    assert {"Region", "DetectUrl", "EdgeAgentPolicyArn"} <= set(outputs)
    assert outputs["FeedbackUrl"]["Value"] == {"Fn::GetAtt": ["FeedbackFunctionUrl", "FunctionUrl"]}
    assert outputs["ConsoleUrl"]["Value"] == {"Fn::GetAtt": ["ConsoleFunctionUrl", "FunctionUrl"]}


def test_readme_documents_the_image_choice():
    text = (INFRA / "aws" / "README.md").read_text()
    assert "250 MB" in text and "PackageType: Image" in text
