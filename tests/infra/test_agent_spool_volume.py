"""The agent's spool outlives its container in every shipped deployment: the image names
the directory (FACEWATCH_SPOOL_DIR) and owns it as the agent's user, compose mounts a named
volume there, the k8s DaemonSet a directory of the node, and both restart a failed agent."""

from __future__ import annotations

from typing import Any

import yaml

from tests.infra.helpers import INFRA, REPO, load_yaml_documents, parse_dockerfile

AGENT_UID = "10001"


def image() -> tuple[str, str, str]:
    """(spool directory, the image's user, its RUN lines) of Dockerfile.agent's last stage."""
    stage = parse_dockerfile(REPO / "Dockerfile.agent")[-1]
    env = dict(
        arg.split("=", 1) for kw, arg in stage.instructions if kw == "ENV" and arg.startswith("FACEWATCH_")
    )
    runs = " ".join(arg for kw, arg in stage.instructions if kw == "RUN")
    return env["FACEWATCH_SPOOL_DIR"], stage.last("USER") or "root", runs


def agent_daemonset() -> dict[str, Any]:
    (found,) = [o for o in load_yaml_documents(INFRA / "k8s" / "agent.yaml") if o["kind"] == "DaemonSet"]
    return found


def test_the_image_makes_its_spool_directory_the_agent_users():
    spool, user, runs = image()
    assert user == AGENT_UID
    assert f"chown {AGENT_UID}:{AGENT_UID} {spool}" in runs


def test_compose_keeps_the_spool_in_a_named_volume_and_restarts_a_failed_agent():
    compose = yaml.safe_load((INFRA / "compose" / "compose.yaml").read_text())
    agent = compose["services"]["agent"]
    spool, _, _ = image()
    mounts = dict(reversed(v.split(":")[:2]) for v in agent["volumes"])
    assert spool in mounts, "no volume at the spool directory: frames not yet sent die with the container"
    assert mounts[spool] in compose["volumes"], "a named volume, not a bind mount of some host path"
    assert agent["restart"] in ("on-failure", "unless-stopped", "always")


def test_k8s_keeps_the_spool_on_the_node_and_hands_it_to_the_agent_user():
    pod = agent_daemonset()["spec"]["template"]["spec"]
    spool, _, _ = image()
    volumes = {v["name"]: v for v in pod["volumes"]}
    (agent,) = pod["containers"]
    (mount,) = [m for m in agent["volumeMounts"] if m["mountPath"] == spool]
    volume = volumes[mount["name"]]
    assert "hostPath" in volume or "persistentVolumeClaim" in volume, "emptyDir dies with the pod"
    assert pod["securityContext"]["runAsUser"] == int(AGENT_UID)
    if "hostPath" in volume:  # kubelet creates it as root
        (owner,) = [
            c for c in pod["initContainers"] if any(m["name"] == mount["name"] for m in c["volumeMounts"])
        ]
        assert owner["command"] == ["chown", f"{AGENT_UID}:{AGENT_UID}", spool]
        assert owner["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
