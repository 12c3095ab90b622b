"""infra/compose/compose.yaml: valid against the Compose Specification's JSON schema (the
copy check-jsonschema vendors, so no network), every FACEWATCH_* variable is a facewatch
setting, and the pieces point at each other: MinIO's webhook at recognize with the token
recognize checks, recognize at notify, notify at the mail catcher."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

from tests.infra.helpers import FUNCTIONS, INFRA, REPO, build_stages, unknown_facewatch_names

COMPOSE_FILE = INFRA / "compose" / "compose.yaml"


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(vendored.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Validator:
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def default_of(value: str) -> str:
    """`${VAR:-default}` -> default; anything else unchanged."""
    match = re.fullmatch(r"\$\{\w+:?-([^}]*)\}", value)
    return match.group(1) if match else value


# --- schema ---------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification(compose, validator):
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "\n".join(errors)


def test_schema_validation_is_really_checking(compose, validator):
    """A control: a misspelt key is reported."""
    broken = copy.deepcopy(compose)
    broken["services"]["recognize"]["depends_onn"] = broken["services"]["recognize"].pop("depends_on")
    assert list(validator.iter_errors(broken))


# --- settings drift --------------------------------------------------------------------------


def test_every_facewatch_variable_is_a_setting(compose):
    for name, service in compose["services"].items():
        assert not unknown_facewatch_names(environment(service)), name


# --- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_services_build_their_target(compose, name):
    build = compose["services"][name]["build"]
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == REPO
    assert build["dockerfile"] == "Dockerfile"
    assert build["target"] == name
    assert name in build_stages(context / build["dockerfile"])


def test_every_built_image_names_an_existing_dockerfile_and_target(compose):
    for name, service in compose["services"].items():
        if "build" not in service:
            assert re.search(r":[\w.-]+$", service["image"]), f"{name}: pin the image"
            continue
        build = service["build"]
        dockerfile = (COMPOSE_FILE.parent / build["context"]).resolve() / build.get(
            "dockerfile", "Dockerfile"
        )
        assert dockerfile.is_file(), name
        if "target" in build:
            assert build["target"] in build_stages(dockerfile), name


# --- wiring -------------------------------------------------------------------------------------


def test_minio_webhook_targets_recognize_with_its_token(compose):
    services = compose["services"]
    minio = environment(services["minio"])
    target_ids = [n.rpartition("_")[2] for n in minio if n.startswith("MINIO_NOTIFY_WEBHOOK_ENABLE_")]
    assert target_ids == ["facewatch"]
    assert minio["MINIO_NOTIFY_WEBHOOK_ENABLE_facewatch"] == "on"
    endpoint = urlparse(minio["MINIO_NOTIFY_WEBHOOK_ENDPOINT_facewatch"])
    assert endpoint.hostname == "recognize" and endpoint.hostname in services
    assert endpoint.port == 8080, "functions-framework listens on PORT=8080 in the image"
    token = minio["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_facewatch"]
    assert token == environment(services["recognize"])["FACEWATCH_WEBHOOK_TOKEN"]
    assert token.startswith("${FACEWATCH_WEBHOOK_TOKEN"), "settable from .env"
    queue_dir = minio["MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_facewatch"]
    mounts = [v.split(":")[1] for v in services["minio"]["volumes"]]
    assert queue_dir in mounts, "the event queue must be on a volume"


def test_setup_subscribes_the_bucket_and_runs_after_minio_is_healthy(compose):
    setup = compose["services"]["minio-setup"]
    assert setup["depends_on"]["minio"]["condition"] == "service_healthy"
    script_mount = next(v for v in setup["volumes"] if v.endswith(":ro"))
    host_path = (COMPOSE_FILE.parent / script_mount.split(":")[0]).resolve()
    assert host_path.is_file()
    assert setup["entrypoint"][-1] == script_mount.split(":")[1]
    assert environment(setup)["WEBHOOK_ARN"] == "arn:minio:sqs::facewatch:webhook"
    assert (
        environment(setup)["AWS_ACCESS_KEY_ID"]
        == environment(compose["services"]["recognize"])["AWS_ACCESS_KEY_ID"]
    ), "the functions use the user minio-setup creates"


def test_recognize_notify_and_mail_catcher_point_at_each_other(compose):
    services = compose["services"]
    recognize = environment(services["recognize"])
    assert urlparse(recognize["FACEWATCH_NOTIFY_URL"]).hostname == "notify"
    notify = environment(services["notify"])
    assert default_of(notify["FACEWATCH_ALERT_CHANNEL"]) == "smtp"
    assert default_of(notify["FACEWATCH_SMTP_HOST"]) == "outbox"
    command = services["outbox"]["command"]
    assert command[:3] == ["python", "-m", "facewatch.local.outbox"]
    assert default_of(notify["FACEWATCH_SMTP_PORT"]) == command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    # settable from .env; left empty, no broker (config reads "" as unset)
    assert notify["FACEWATCH_MQTT_URL"] == "${FACEWATCH_MQTT_URL:-}"
    holders = {n for n, s in services.items() if "FACEWATCH_MQTT_URL" in environment(s)}
    # The broker URL may hold a password: only what talks to the broker has it (notify's
    # alerts, the agent's availability, the away switch's bridge).
    assert holders == {"notify", "agent", "mqtt-bridge"}


def test_the_mqtt_bridge_is_opt_in_needs_a_broker_and_checks_its_heartbeat(compose):
    bridge = compose["services"]["mqtt-bridge"]
    assert bridge["profiles"] == ["mqtt"]
    assert environment(bridge)["FACEWATCH_MQTT_URL"].startswith("${FACEWATCH_MQTT_URL:?")
    command = bridge["command"]
    assert command[:4] == ["python", "-m", "facewatch.cli", "mqtt-bridge"]
    assert command[command.index("--household") + 1].startswith("${MQTT_BRIDGE_HOUSEHOLDS")
    heartbeat = command[command.index("--heartbeat-file") + 1]
    assert heartbeat in " ".join(bridge["healthcheck"]["test"])


def test_notify_takes_alerts_only_with_the_token_recognize_sends_and_it_is_required(compose):
    """Anything on the compose network reaches notify: its token is what lets recognize
    alone hand it alerts, and it has no development default to fall back on."""
    services = compose["services"]
    token = environment(services["notify"])["FACEWATCH_NOTIFY_TOKEN"]
    assert token == environment(services["recognize"])["FACEWATCH_NOTIFY_TOKEN"]
    assert token.startswith("${FACEWATCH_NOTIFY_TOKEN:?"), "required, settable from .env"
    holders = {n for n, s in services.items() if "FACEWATCH_NOTIFY_TOKEN" in environment(s)}
    assert holders == {"recognize", "notify"}
    assert "ports" not in services["notify"], "notify is for recognize only, on the compose network"
    assert not any("OUTBOUND_ALLOW_LOOPBACK" in k for s in services.values() for k in environment(s))


def test_notify_links_to_feedback_with_the_secret_feedback_verifies(compose):
    services = compose["services"]
    notify, feedback = environment(services["notify"]), environment(services["feedback"])
    console = environment(services["console"])
    assert notify["FACEWATCH_LINK_SECRET"] == feedback["FACEWATCH_LINK_SECRET"]
    assert notify["FACEWATCH_LINK_SECRET"] == console["FACEWATCH_LINK_SECRET"]
    assert notify["FACEWATCH_LINK_SECRET"].startswith("${FACEWATCH_LINK_SECRET"), "settable from .env"
    holders = {n for n, s in services.items() if "FACEWATCH_LINK_SECRET" in environment(s)}
    assert holders == {"notify", "feedback", "console"}
    # the link is opened by the email's reader, from the host: feedback's published port
    url = urlparse(default_of(notify["FACEWATCH_FEEDBACK_URL"]))
    published = [port.rpartition(":") for port in services["feedback"]["ports"]]
    assert [(default_of(host), container) for host, _, container in published] == [(str(url.port), "8080")]


def test_notify_and_console_point_at_the_consoles_published_port(compose):
    """The emails' console links are opened from the host, like feedback's: notify and the
    console itself get one FACEWATCH_CONSOLE_URL, settable from .env, whose default is the
    console's published port (CONSOLE_PORT, 8082 unless set)."""
    services = compose["services"]
    notify, console = environment(services["notify"]), environment(services["console"])
    assert notify["FACEWATCH_CONSOLE_URL"] == console["FACEWATCH_CONSOLE_URL"]
    assert notify["FACEWATCH_CONSOLE_URL"].startswith("${FACEWATCH_CONSOLE_URL"), "settable from .env"
    url = urlparse(default_of(notify["FACEWATCH_CONSOLE_URL"]))
    published = [port.rpartition(":") for port in services["console"]["ports"]]
    assert [(host, container) for host, _, container in published] == [("${CONSOLE_PORT:-8082}", "8080")]
    assert url.port == 8082
    holders = {n for n, s in services.items() if "FACEWATCH_CONSOLE_URL" in environment(s)}
    assert holders == {"notify", "console"}


def test_every_service_talks_to_minio_with_the_same_bucket_and_endpoint(compose):
    users = [n for n, s in compose["services"].items() if "FACEWATCH_S3_ENDPOINT_URL" in environment(s)]
    assert set(FUNCTIONS) | {"agent"} <= set(users)
    for name in users:
        env = environment(compose["services"][name])
        assert urlparse(env["FACEWATCH_S3_ENDPOINT_URL"]).hostname == "minio"
        assert env["FACEWATCH_BUCKET"] == environment(compose["services"]["minio-setup"])["FACEWATCH_BUCKET"]


def test_depends_on_conditions_can_be_met(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", f"{dependency} is not one-shot"


def test_long_running_services_have_healthchecks(compose):
    for name, service in compose["services"].items():
        if service.get("restart") != "no":
            assert "healthcheck" in service, name


def test_agent_is_opt_in_and_takes_its_source_from_the_environment(compose):
    agent = compose["services"]["agent"]
    assert agent["profiles"] == ["agent"]
    assert agent["build"]["dockerfile"] == "Dockerfile.agent"
    command = agent["command"]
    for flag, variable in (
        ("--source", "AGENT_SOURCE"),
        ("--household", "AGENT_HOUSEHOLD"),
        ("--camera", "AGENT_CAMERA"),
    ):
        assert command[command.index(flag) + 1].startswith("${" + variable)


def test_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"


def test_mail_catcher_module_takes_the_options_compose_passes(compose):
    """`python -m facewatch.local.outbox --dir … --port … --host …` (read, not imported)."""
    spec = importlib.util.find_spec("facewatch.local.outbox")
    assert spec is not None and spec.origin, "facewatch.local.outbox (the SMTP mail catcher) does not exist"
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert "__main__" in source, "not runnable with python -m"
    command = compose["services"]["outbox"]["command"]
    for option in (word for word in command if word.startswith("--")):
        assert f'"{option}"' in source or f"'{option}'" in source, f"facewatch.local.outbox has no {option}"


# --- metrics ---------------------------------------------------------------------------------


def test_every_function_asks_for_the_metrics_token_prometheus_presents(compose):
    """FACEWATCH_METRICS_TOKEN reaches every function (their /metrics ask for it) and, as a
    secret file, the prometheus service, whose scrape config presents it to each of them."""
    services = compose["services"]
    for name in FUNCTIONS:
        assert environment(services[name])["FACEWATCH_METRICS_TOKEN"] == "${FACEWATCH_METRICS_TOKEN:-}", name
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    assert compose["secrets"]["metrics_token"] == {"environment": "FACEWATCH_METRICS_TOKEN"}
    assert prometheus["secrets"] == ["metrics_token"]
    assert all(p.startswith("127.0.0.1:") for p in prometheus["ports"]), "the metrics stay on the host"
    mounted = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    config = yaml.safe_load((COMPOSE_FILE.parent / mounted["/etc/prometheus/prometheus.yml"]).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    (targets,) = [c["targets"] for c in job["static_configs"]]
    assert sorted(targets) == sorted(f"{name}:8080" for name in FUNCTIONS)


def test_minios_ilm_rule_and_the_uploads_tag_read_one_setting(compose):
    """FACEWATCH_FRAME_EXPIRY_DAYS reaches minio-setup (its ILM rule's days) and everything
    that uploads frames (detect, the agent: their tag), from one variable; empty, it is no
    setting at all (no tag, no rule)."""
    from facewatch.config import Settings

    services = compose["services"]
    for name in ("minio-setup", "detect", "agent", "recognize"):
        assert (
            environment(services[name])["FACEWATCH_FRAME_EXPIRY_DAYS"] == "${FACEWATCH_FRAME_EXPIRY_DAYS:-}"
        ), name
    assert Settings(frame_expiry_days="").frame_expiry_days is None
    assert Settings(frame_expiry_days="365").frame_expiry_days == 365
