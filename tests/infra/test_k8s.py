"""infra/k8s: every core object validates (strictly, unknown fields are errors) against the
Kubernetes schemas kubernetes-validate ships; the Knative Services against the Knative
Serving models cloudcoil generates from Knative's CRDs, plus the fields that matter; the
kustomization lists files that exist; MinIO's webhook points at recognize with the token
from the Secret recognize checks it against."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.knative_serving.serving.v1 import Service as KnativeService

from tests.infra.helpers import FUNCTIONS, INFRA, load_yaml_documents, unknown_facewatch_names

K8S = INFRA / "k8s"
KUBERNETES_VERSION = "1.31.0"
KNATIVE_API = "serving.knative.dev/v1"


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def all_objects() -> list[dict[str, Any]]:
    objects = []
    for name in kustomization()["resources"]:
        objects.extend(load_yaml_documents(K8S / name))
    return objects


OBJECTS = all_objects()
CORE = [o for o in OBJECTS if o["apiVersion"] != KNATIVE_API]
KSVCS = {o["metadata"]["name"]: o for o in OBJECTS if o["apiVersion"] == KNATIVE_API}
NAMESPACE = kustomization()["namespace"]


def obj_id(o: dict[str, Any]) -> str:
    return f"{o['kind']}/{o['metadata']['name']}"


def find(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in OBJECTS if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def pod_spec(o: dict[str, Any]) -> dict[str, Any]:
    if o["kind"] == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return o["spec"]["template"]["spec"]


def has_pods(o: dict[str, Any]) -> bool:
    return "template" in o.get("spec", {}) or "jobTemplate" in o.get("spec", {})


def env_map(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def generated_configmaps() -> dict[str, dict[str, str]]:
    """The ConfigMaps configMapGenerator makes: name -> {key: file content}."""
    out = {}
    for gen in kustomization().get("configMapGenerator", []):
        data = {}
        for entry in gen.get("files", []):
            key, _, path = entry.rpartition("=")
            data[key or path] = (K8S / path).read_text()
        out[gen["name"]] = data
    return out


# --- kustomization ---------------------------------------------------------------------------


def test_kustomization_lists_existing_files_and_every_manifest():
    k = kustomization()
    for name in k["resources"]:
        assert (K8S / name).is_file(), name
    for gen in k.get("configMapGenerator", []):
        for entry in gen.get("files", []):
            assert (K8S / entry.rpartition("=")[2]).is_file(), entry
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert manifests == set(k["resources"]), "a manifest that kustomization.yaml does not apply"
    assert k["generatorOptions"]["disableNameSuffixHash"] is True, "the Job refers to minio-setup by name"


def test_kustomization_images_cover_every_container_image():
    images = {i["name"] for i in kustomization()["images"]}
    for o in OBJECTS:
        if o["kind"] in {"Deployment", "DaemonSet", "Job", "CronJob", "Service"} and has_pods(o):
            for c in pod_spec(o)["containers"]:
                image = c["image"]
                assert image in images or re.search(r":[\w.-]+$", image), f"{obj_id(o)}: {image}"


def test_one_namespace_object_matches_the_kustomization():
    namespaces = [o for o in OBJECTS if o["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == [NAMESPACE]


# --- core objects: kubernetes-validate, strict ------------------------------------------------


@pytest.mark.parametrize("obj", CORE, ids=obj_id)
def test_core_object_is_valid_kubernetes(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_unknown_fields():
    """A control: the schemas are there offline and misplaced fields are errors."""
    daemonset = copy.deepcopy(find("DaemonSet", "facewatch-agent"))
    pod_spec(daemonset)["containers"][0]["nodeSelector"] = {"facewatch.io/edge": "true"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, KUBERNETES_VERSION, strict=True)


# --- Knative Services ---------------------------------------------------------------------------


def test_a_knative_service_per_function():
    assert set(KSVCS) == set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_knative_service_matches_the_knative_serving_schema(name):
    """Validated by the pydantic models cloudcoil generates from Knative Serving's CRD
    schema. Those ignore unknown fields, so the object must also come back unchanged:
    anything dropped was a field Knative does not know."""
    svc = KSVCS[name]
    parsed = KnativeService.model_validate(svc)
    assert parsed.model_dump(by_alias=True, exclude_unset=True) == svc


def test_knative_schema_check_catches_a_misplaced_field():
    svc = copy.deepcopy(KSVCS["recognize"])
    pod_spec(svc)["containers"][0]["containerConcurrency"] = 1  # belongs one level up
    parsed = KnativeService.model_validate(svc)
    assert parsed.model_dump(by_alias=True, exclude_unset=True) != svc


@pytest.mark.parametrize("name", FUNCTIONS)
def test_knative_service_fields_that_matter(name):
    svc = KSVCS[name]
    assert svc["apiVersion"] == KNATIVE_API and svc["kind"] == "Service"
    template = svc["spec"]["template"]
    spec = template["spec"]
    (container,) = spec["containers"]
    assert container["image"] == f"facewatch/{name}"
    assert container["ports"] == [{"containerPort": 8080}]
    assert "PORT" not in env_map(container), "Knative sets PORT itself"
    assert isinstance(spec["containerConcurrency"], int) and spec["containerConcurrency"] >= 0
    annotations = template["metadata"]["annotations"]
    low = int(annotations["autoscaling.knative.dev/min-scale"])
    high = int(annotations["autoscaling.knative.dev/max-scale"])
    assert 0 <= low <= high
    assert all(isinstance(v, str) for v in annotations.values()), "annotation values are strings"
    names = set(env_map(container))
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        obj = find(kind, ref["name"])
        names |= set(obj.get("data", {})) | set(obj.get("stringData", {}) or {})
    assert not unknown_facewatch_names(names), name
    assert {"FACEWATCH_BUCKET", "FACEWATCH_S3_ENDPOINT_URL"} <= names
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= names


def test_recognize_stays_warm_and_judges_one_frame_at_a_time():
    template = KSVCS["recognize"]["spec"]["template"]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert template["spec"]["containerConcurrency"] == 1


def test_only_detect_feedback_and_console_are_reachable_from_outside_the_cluster():
    """detect for cameras (with its token), feedback for the browser that opens an email's
    link (the signed token in the link authorizes), console for a household's browser (a
    session cookie from a one-time sign-in link authorizes), and only through the Ingress:
    one host, with TLS, the public URL every alert link starts with. Every Knative Service
    is cluster-local."""
    visibility = "networking.knative.dev/visibility"
    public = {
        name for name, svc in KSVCS.items() if svc["metadata"]["labels"].get(visibility) != "cluster-local"
    }
    assert public == set()
    ingresses = [o for o in OBJECTS if o["kind"] == "Ingress"]
    routes = {}
    for ingress in ingresses:
        spec = ingress["spec"]
        (rule,) = spec["rules"]
        assert [t["hosts"] for t in spec["tls"]] == [[rule["host"]]], "TLS for the one host"
        (path,) = rule["http"]["paths"]
        service = path["backend"]["service"]["name"]
        vhost = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/upstream-vhost"]
        assert vhost == f"{service}.{NAMESPACE}.svc.cluster.local", "Knative's gateway routes by host"
        routes[path["path"]] = (rule["host"], service)
    assert routes == {
        "/": ("facewatch.example.com", "console"),
        "/feedback/": ("facewatch.example.com", "feedback"),
        "/detect": ("facewatch.example.com", "detect"),
    }
    config = find("ConfigMap", "facewatch-config")["data"]
    assert config["FACEWATCH_CONSOLE_URL"] == "https://facewatch.example.com/"
    assert config["FACEWATCH_FEEDBACK_URL"] == "https://facewatch.example.com/feedback/"
    assert config["FACEWATCH_FRAME_LINK_URL"] == "https://facewatch.example.com/picture"
    detect_env = env_map(pod_spec(KSVCS["detect"])["containers"][0])
    assert "secretKeyRef" in detect_env["FACEWATCH_DETECT_TOKEN"]["valueFrom"]


def test_notify_signs_links_with_the_secret_feedback_and_console_verify_and_points_at_them():
    notify_env = env_map(pod_spec(KSVCS["notify"])["containers"][0])
    feedback_env = env_map(pod_spec(KSVCS["feedback"])["containers"][0])
    console_env = env_map(pod_spec(KSVCS["console"])["containers"][0])
    ref = notify_env["FACEWATCH_LINK_SECRET"]["valueFrom"]["secretKeyRef"]
    assert feedback_env["FACEWATCH_LINK_SECRET"]["valueFrom"]["secretKeyRef"] == ref
    assert console_env["FACEWATCH_LINK_SECRET"]["valueFrom"]["secretKeyRef"] == ref
    assert "optional" not in ref, "without the secret, links would silently disappear from emails"
    secret = find("Secret", ref["name"])
    assert ref["key"] in secret["stringData"]
    # only the functions that sign or verify links get it
    holders = {
        name
        for name, svc in KSVCS.items()
        if "FACEWATCH_LINK_SECRET" in env_map(pod_spec(svc)["containers"][0])
        or any(
            s.get("secretRef", {}).get("name") == ref["name"]
            for s in pod_spec(svc)["containers"][0].get("envFrom", [])
        )
    }
    assert holders == {"notify", "feedback", "console"}
    url = find("ConfigMap", "facewatch-config")["data"]["FACEWATCH_FEEDBACK_URL"]
    assert url.startswith("https://") and url.endswith("/feedback/"), "the Ingress's path to feedback"


def test_only_notify_gets_the_mqtt_broker_url_and_only_from_a_secret():
    holders = {
        name: env_map(pod_spec(svc)["containers"][0])["FACEWATCH_MQTT_URL"]
        for name, svc in KSVCS.items()
        if "FACEWATCH_MQTT_URL" in env_map(pod_spec(svc)["containers"][0])
    }
    assert set(holders) == {"notify"}, "the broker URL may hold a password"
    ref = holders["notify"]["valueFrom"]["secretKeyRef"]
    assert ref["optional"] is True, "a household may bring its own broker, or use none"
    assert find("Secret", ref["name"])["kind"] == "Secret"
    assert all("FACEWATCH_MQTT_URL" not in (o.get("data") or {}) for o in OBJECTS if o["kind"] == "ConfigMap")


def test_notify_and_console_know_the_consoles_external_url():
    """The emails' console links (notify) and the console itself read FACEWATCH_CONSOLE_URL
    from the shared ConfigMap: the Ingress's host, which feedback's URL shares."""
    config = find("ConfigMap", "facewatch-config")
    url = config["data"]["FACEWATCH_CONSOLE_URL"]
    assert url.startswith("https://"), "the Ingress speaks TLS"
    assert config["data"]["FACEWATCH_FEEDBACK_URL"] == url + "feedback/", "one host for both"
    for name in ("notify", "console"):
        (container,) = pod_spec(KSVCS[name])["containers"]
        sources = [s.get("configMapRef", {}).get("name") for s in container.get("envFrom", [])]
        assert "facewatch-config" in sources, name
        assert "FACEWATCH_CONSOLE_URL" not in env_map(container), f"{name}: one URL, in the ConfigMap"


def test_notify_takes_alerts_with_the_token_only_recognize_holds():
    """notify checks FACEWATCH_NOTIFY_TOKEN; recognize sends it; both read it from one Secret
    key, and no other function holds it."""
    refs = {
        name: env_map(pod_spec(svc)["containers"][0])["FACEWATCH_NOTIFY_TOKEN"]["valueFrom"]["secretKeyRef"]
        for name, svc in KSVCS.items()
        if "FACEWATCH_NOTIFY_TOKEN" in env_map(pod_spec(svc)["containers"][0])
    }
    assert set(refs) == {"recognize", "notify"}
    assert refs["recognize"] == refs["notify"] and "optional" not in refs["notify"]
    assert refs["notify"]["key"] in find("Secret", refs["notify"]["name"])["stringData"]
    assert all("OUTBOUND_ALLOW_LOOPBACK" not in k for o in OBJECTS for k in (o.get("data") or {}))


def test_only_recognize_and_knatives_data_path_reach_notifys_pods():
    """The NetworkPolicy selects notify's pods (the labels its Knative revision's pods get)
    and admits recognize, a labelled CLI pod and Knative's activator and gateway, nothing
    else: no rule without a source, no ipBlock, no source that matches every pod."""
    (policy,) = [o for o in OBJECTS if o["kind"] == "NetworkPolicy"]
    pods = KSVCS["notify"]["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pods.items(), "the policy must select notify's pods"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    sources = rule["from"]
    assert sources and all(set(s) in ({"podSelector"}, {"namespaceSelector"}) for s in sources)
    assert all(next(iter(s.values())).get("matchLabels") for s in sources), "an empty selector admits all"
    in_namespace = [s["podSelector"]["matchLabels"] for s in sources if "podSelector" in s]
    recognize = KSVCS["recognize"]["spec"]["template"]["metadata"]["labels"]
    assert in_namespace[0].items() <= recognize.items()
    assert in_namespace[1] == {"facewatch.io/notify-client": "true"}
    namespaces = {
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for s in sources
        if "namespaceSelector" in s
    }
    assert namespaces == {"knative-serving", "kourier-system"}
    for name, svc in KSVCS.items():  # no other function's pods carry notify's labels
        if name != "notify":
            assert not selector.items() <= svc["spec"]["template"]["metadata"]["labels"].items(), name


# --- references resolve ----------------------------------------------------------------------------


def containers_of(o: dict[str, Any]) -> list[dict[str, Any]]:
    if not has_pods(o):
        return []
    return pod_spec(o)["containers"] + pod_spec(o).get("initContainers", [])


@pytest.mark.parametrize("obj", [o for o in OBJECTS if containers_of(o)], ids=obj_id)
def test_every_config_and_secret_reference_resolves(obj):
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in OBJECTS if o["kind"] == "ConfigMap"}
    configmaps.update(generated_configmaps())
    secrets = {
        o["metadata"]["name"]: o.get("stringData") or o.get("data") or {}
        for o in OBJECTS
        if o["kind"] == "Secret"
    }
    for container in containers_of(obj):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps
            else:
                assert source["secretRef"]["name"] in secrets
        for var in container.get("env", []):
            value_from = var.get("valueFrom", {})
            for kind, known in (("configMapKeyRef", configmaps), ("secretKeyRef", secrets)):
                ref = value_from.get(kind)
                if ref:
                    assert ref["name"] in known, f"{var['name']}: no {kind} {ref['name']}"
                    assert ref.get("optional") or ref["key"] in known[ref["name"]], f"{var['name']}: no key"
        assert not unknown_facewatch_names(env_map(container)), obj_id(obj)
    for volume in pod_spec(obj).get("volumes", []):
        if "configMap" in volume:
            assert volume["configMap"]["name"] in configmaps
        if "persistentVolumeClaim" in volume:
            find("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])


def test_configmap_settings_are_facewatch_settings():
    for o in OBJECTS:
        if o["kind"] in {"ConfigMap", "Secret"}:
            keys = set(o.get("data", {}) or {}) | set(o.get("stringData", {}) or {})
            assert not unknown_facewatch_names(keys), obj_id(o)


def test_functions_reach_minio_and_notify_by_their_service_names():
    data = find("ConfigMap", "facewatch-config")["data"]
    minio = find("Service", "minio")
    port = next(p["port"] for p in minio["spec"]["ports"] if p["name"] == "s3")
    assert data["FACEWATCH_S3_ENDPOINT_URL"] == f"http://minio.{NAMESPACE}.svc.cluster.local:{port}"
    assert data["FACEWATCH_NOTIFY_URL"] == f"http://notify.{NAMESPACE}.svc.cluster.local"
    assert "notify" in KSVCS


# --- MinIO and its webhook to recognize ------------------------------------------------------------


def test_minio_webhook_targets_recognize_with_the_token_recognize_checks():
    minio = find("Deployment", "minio")
    (container,) = pod_spec(minio)["containers"]
    env = env_map(container)
    assert env["MINIO_NOTIFY_WEBHOOK_ENABLE_facewatch"]["value"] == "on"
    assert env["MINIO_NOTIFY_WEBHOOK_ENDPOINT_facewatch"]["value"] == (
        f"http://recognize.{NAMESPACE}.svc.cluster.local"
    )
    token = env["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_facewatch"]
    assert "value" not in token, "the token comes from a Secret, not the manifest"
    minio_ref = token["valueFrom"]["secretKeyRef"]
    recognize_env = env_map(pod_spec(KSVCS["recognize"])["containers"][0])
    assert recognize_env["FACEWATCH_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"] == minio_ref
    assert find("Secret", minio_ref["name"])["type"] == "Opaque"


def test_minio_queues_events_on_its_volume():
    minio = find("Deployment", "minio")
    (container,) = pod_spec(minio)["containers"]
    queue_dir = env_map(container)["MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_facewatch"]["value"]
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    assert any(queue_dir.startswith(m.rstrip("/") + "/") for m in mounts), "queue would not survive a restart"
    assert int(env_map(container)["MINIO_NOTIFY_WEBHOOK_QUEUE_LIMIT_facewatch"]["value"]) > 0
    assert minio["spec"]["strategy"]["type"] == "Recreate"
    for name in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        assert "secretKeyRef" in env_map(container)[name]["valueFrom"]


def test_setup_job_subscribes_the_bucket_to_the_webhook_target():
    job = find("Job", "minio-setup")
    (container,) = pod_spec(job)["containers"]
    arn = env_map(container)["WEBHOOK_ARN"]["value"]
    minio_env = env_map(pod_spec(find("Deployment", "minio"))["containers"][0])
    (target_id,) = [n.rpartition("_")[2] for n in minio_env if n.startswith("MINIO_NOTIFY_WEBHOOK_ENABLE_")]
    assert arn == f"arn:minio:sqs::{target_id}:webhook"
    script = generated_configmaps()["minio-setup"]["minio-setup.sh"]
    assert container["command"][-1] == "/setup/minio-setup.sh"
    assert 'mc event add --ignore-existing "local/$BUCKET" "$WEBHOOK_ARN"' in script
    assert "--event put,delete --prefix households/" in script
    assert "for suffix in .jpg .jpeg .png" in script
    assert "mc mb --ignore-existing" in script


def test_the_setup_script_is_the_one_compose_runs():
    compose = yaml.safe_load((INFRA / "compose" / "compose.yaml").read_text())
    [mount] = [v for v in compose["services"]["minio-setup"]["volumes"] if v.endswith(":ro")]
    assert (INFRA / "compose" / mount.split(":")[0]).resolve() == (K8S / "minio-setup.sh").resolve()


# --- the edge agent -------------------------------------------------------------------------------------


def test_agent_runs_on_edge_nodes_only():
    agent = find("DaemonSet", "facewatch-agent")
    spec = pod_spec(agent)
    assert spec["nodeSelector"] == {"facewatch.io/edge": "true"}
    assert any(t["key"] == "facewatch.io/edge" for t in spec["tolerations"])


def test_agent_arguments_come_from_its_environment():
    agent = find("DaemonSet", "facewatch-agent")
    (container,) = pod_spec(agent)["containers"]
    args = container["args"]
    for flag in ("--source", "--household", "--camera"):
        assert flag in args
    env = env_map(container)
    for reference in re.findall(r"\$\((\w+)\)", " ".join(args)):
        assert reference in env, f"$({reference}) is not defined"
    assert env["AGENT_SOURCE"]["valueFrom"]["configMapKeyRef"]["name"] == "facewatch-agent"
    assert container["image"] == "facewatch/agent"


def test_the_mqtt_bridge_is_one_opt_in_pod_with_the_broker_from_the_secret_and_a_heartbeat():
    bridge = find("Deployment", "facewatch-mqtt-bridge")
    assert bridge["spec"]["replicas"] in (0, 1) and bridge["spec"]["strategy"]["type"] == "Recreate"
    (container,) = pod_spec(bridge)["containers"]
    assert container["command"][-1] == "mqtt-bridge"
    env = env_map(container)
    assert env["FACEWATCH_MQTT_URL"]["valueFrom"]["secretKeyRef"]["name"] == "facewatch-mqtt"
    args = container["args"]
    for reference in re.findall(r"\$\((\w+)\)", " ".join(args)):
        assert reference in env, f"$({reference}) is not defined"
    heartbeat = args[args.index("--heartbeat-file") + 1]
    assert heartbeat in " ".join(container["livenessProbe"]["exec"]["command"])
    agent = env_map(pod_spec(find("DaemonSet", "facewatch-agent"))["containers"][0])
    assert agent["FACEWATCH_MQTT_URL"]["valueFrom"]["secretKeyRef"]["optional"] is True


# --- retention ----------------------------------------------------------------------------------


def test_retention_runs_daily_with_the_functions_settings_one_sweep_at_a_time():
    """The one sweep (`facewatch retention`, household/retention.py) on a schedule, with the
    bucket and stranger memory the functions use, never two at once."""
    cron = find("CronJob", "facewatch-retention")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    (container,) = pod_spec(cron)["containers"]
    assert container["command"] == ["python", "-m", "facewatch.cli", "retention"]
    assert container["image"] == "facewatch/runtime"
    sources = [next(iter(s.values()))["name"] for s in container["envFrom"]]
    recognize = KSVCS["recognize"]["spec"]["template"]["spec"]["containers"][0]
    assert sources == [next(iter(s.values()))["name"] for s in recognize["envFrom"]]


def test_the_setup_job_sets_minios_ilm_rule_with_the_days_the_uploads_tag_for():
    """MinIO's ILM rule (minio-setup.sh) expires what the agent and detect tag, after the
    days the same ConfigMap key gives both; the script replaces the rules (idempotent)."""
    script = (K8S / "minio-setup.sh").read_text()
    assert 'mc ilm import "local/$BUCKET"' in script
    assert '"Tags": [{"Key": "facewatch-expiry", "Value": "frame"}]' in script
    assert '"Expiration": {"Days": $FACEWATCH_FRAME_EXPIRY_DAYS}' in script
    from facewatch.layout import EXPIRY_TAG

    assert EXPIRY_TAG == ("facewatch-expiry", "frame")
    days = find("ConfigMap", "facewatch-config")["data"]["FACEWATCH_FRAME_EXPIRY_DAYS"]
    from facewatch.config import Settings

    assert Settings(frame_expiry_days=days).frame_expiry_days == int(days)
    for holder in (find("Job", "minio-setup"), find("DaemonSet", "facewatch-agent")):
        (container,) = pod_spec(holder)["containers"]
        ref = env_map(container)["FACEWATCH_FRAME_EXPIRY_DAYS"]["valueFrom"]["configMapKeyRef"]
        assert ref["name"] == "facewatch-config" and ref["key"] == "FACEWATCH_FRAME_EXPIRY_DAYS"
