"""Every function in functions/ is deployed by each of the three infra flavours, and its
images can be built: a function added to the repository and forgotten by one deployment
(as feedback was) fails here by name."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.infra.helpers import FUNCTIONS, INFRA, REPO, build_stages, env_of, load_yaml_documents
from tests.infra.sam import FUNCTION_IDS, decoded_template

K8S = INFRA / "k8s"


def knative_services() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objects = [o for name in kustomization["resources"] for o in load_yaml_documents(K8S / name)]
    return {o["metadata"]["name"]: o for o in objects if o["apiVersion"].startswith("serving.knative.dev/")}


def compose_services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((INFRA / "compose" / "compose.yaml").read_text())["services"]


def test_the_functions_are_found_in_the_repository():
    """A control: FUNCTIONS is every functions/<name>/main.py, feedback and console included."""
    on_disk = {p.name for p in (REPO / "functions").iterdir() if (p / "main.py").is_file()}
    assert set(FUNCTIONS) == on_disk
    assert {"detect", "recognize", "notify", "feedback", "console"} <= on_disk


@pytest.mark.parametrize("function", FUNCTIONS)
def test_aws_deploys_it(function):
    assert function in FUNCTION_IDS, f"no AWS::Serverless::Function builds the {function} target"
    resource = decoded_template()["Resources"][FUNCTION_IDS[function]]
    assert resource["Properties"]["PackageType"] == "Image"
    dockerfile = (INFRA / "aws" / resource["Metadata"]["DockerContext"]).resolve() / resource["Metadata"][
        "Dockerfile"
    ]
    assert function in build_stages(dockerfile), f"{dockerfile.name} has no {function} target"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_kubernetes_deploys_it(function):
    services = knative_services()
    assert function in services, f"no Knative Service {function} in the kustomization's resources"
    (container,) = services[function]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"facewatch/{function}"
    images = {i["name"] for i in yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]}
    assert f"facewatch/{function}" in images, "kustomization.yaml must say where its image is"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_compose_deploys_it(function):
    builds = {name: s["build"] for name, s in compose_services().items() if "build" in s}
    deploying = [name for name, b in builds.items() if b.get("target") == function]
    assert deploying == [function], f"one compose service named {function} builds its target"
    assert builds[function]["dockerfile"] == "Dockerfile"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_functions_framework_image_has_its_target(function):
    stages = build_stages(REPO / "Dockerfile")
    assert function in stages, f"Dockerfile has no {function} target (Knative and compose build it)"
    assert env_of(stages, function)["FUNCTION"] == function
