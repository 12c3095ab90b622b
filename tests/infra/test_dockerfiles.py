"""The three Dockerfiles agree with the code they package: every target a Dockerfile, SAM
or compose names exists, each function target's main.py defines that function and, when
its Lambda image runs `main.handler`, the Lambda `handler` (read with ast, never imported);
a Lambda image that serves HTTP instead runs functions-framework behind the Lambda Web
Adapter; the agent's entry point is a real command. Docker itself is not needed."""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.infra.helpers import (
    FUNCTIONS,
    REPO,
    build_stages,
    env_of,
    exec_form,
    global_args,
    parse_dockerfile,
    resolved,
    substitute,
)

DOCKERFILE = REPO / "Dockerfile"
DOCKERFILE_LAMBDA = REPO / "Dockerfile.lambda"
DOCKERFILE_AGENT = REPO / "Dockerfile.agent"
ALL_DOCKERFILES = (DOCKERFILE, DOCKERFILE_LAMBDA, DOCKERFILE_AGENT)


def top_level_functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def run_text(path: Path) -> str:
    return " ".join(arg for stage in parse_dockerfile(path) for kw, arg in stage.instructions if kw == "RUN")


ADAPTER_EXTENSION = "/opt/extensions/lambda-adapter"


def serves_http_on_lambda(function: str) -> bool:
    """Its Lambda target runs a web server behind the Lambda Web Adapter extension, rather
    than the Lambda runtime calling main.handler."""
    stages = build_stages(DOCKERFILE_LAMBDA)
    copies = [arg.split() for kw, arg in stages[function].instructions if kw == "COPY"]
    return any(c[-1] == ADAPTER_EXTENSION for c in copies)


LAMBDA_HANDLER_FUNCTIONS = [f for f in FUNCTIONS if not serves_http_on_lambda(f)]
LAMBDA_HTTP_FUNCTIONS = [f for f in FUNCTIONS if serves_http_on_lambda(f)]


# --- the function code each image runs -----------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_main_defines_its_functions_framework_target(function):
    main = REPO / "functions" / function / "main.py"
    defined = top_level_functions(main)
    assert function in defined, f"functions-framework target {function}() is not defined in {main.name}"
    assert len(defined[function].args.args) == 1, "a functions-framework http target takes (request)"


@pytest.mark.parametrize("function", LAMBDA_HANDLER_FUNCTIONS)
def test_function_main_defines_the_lambda_handler_its_image_runs(function):
    defined = top_level_functions(REPO / "functions" / function / "main.py")
    assert "handler" in defined, f"Lambda handler() (main.handler) is not defined in functions/{function}"
    handler_args = defined["handler"].args
    assert len(handler_args.args) == 2, "a Lambda handler takes (event, context)"


# --- Dockerfile.lambda -----------------------------------------------------------------------


def test_lambda_image_has_one_target_per_function():
    stages = build_stages(DOCKERFILE_LAMBDA)
    assert set(FUNCTIONS) <= set(stages)
    base = substitute(parse_dockerfile(DOCKERFILE_LAMBDA)[1].base, global_args(DOCKERFILE_LAMBDA))
    assert base.startswith("public.ecr.aws/lambda/python:"), base


@pytest.mark.parametrize("function", LAMBDA_HANDLER_FUNCTIONS)
def test_lambda_target_copies_its_main_and_runs_main_handler(function):
    stages = build_stages(DOCKERFILE_LAMBDA)
    assert exec_form(resolved(stages, function, "CMD")) == ["main.handler"]
    copies = [arg.split() for kw, arg in stages[function].instructions if kw == "COPY"]
    assert [f"functions/{function}/main.py", "${LAMBDA_TASK_ROOT}/main.py"] in copies
    # the Lambda base image's entry point runs the handler named by CMD: none of our own
    assert resolved(stages, function, "ENTRYPOINT") is None


@pytest.mark.parametrize("function", LAMBDA_HTTP_FUNCTIONS)
def test_lambda_http_target_serves_its_function_where_the_adapter_forwards(function):
    stages = build_stages(DOCKERFILE_LAMBDA)
    stage = stages[function]
    assert stage.base == "deps", "the same pinned install as the other Lambda images"
    (adapter_copy,) = [arg.split() for kw, arg in stage.instructions if kw == "COPY" and "--from" in arg]
    source_stage = adapter_copy[0].removeprefix("--from=")
    adapter_image = substitute(stages[source_stage].base, global_args(DOCKERFILE_LAMBDA))
    assert adapter_image.startswith("public.ecr.aws/awsguru/aws-lambda-adapter:"), adapter_image
    assert adapter_copy[1:] == ["/lambda-adapter", ADAPTER_EXTENSION]
    copies = [arg.split() for kw, arg in stage.instructions if kw == "COPY" and "--from" not in arg]
    assert [f"functions/{function}/main.py", "${LAMBDA_TASK_ROOT}/main.py"] in copies

    entrypoint = exec_form(resolved(stages, function, "ENTRYPOINT"))
    assert entrypoint is not None, "exec form: the server is the runtime process and gets the signals"
    assert entrypoint[:3] == ["python3", "-m", "functions_framework"]
    flags = dict(word.partition("=")[::2] for word in entrypoint[3:])
    assert flags["--target"] == function
    assert flags["--source"] == "main.py", "main.py is copied to LAMBDA_TASK_ROOT, the WORKDIR"
    assert flags["--signature-type"] == "http"
    env = env_of(stages, function)
    assert flags["--port"] == env["AWS_LWA_PORT"], "the adapter forwards to AWS_LWA_PORT"
    # the base image's bootstrap, which the ENTRYPOINT replaces, put LAMBDA_TASK_ROOT on sys.path
    assert env["PYTHONPATH"] == "${LAMBDA_TASK_ROOT}"
    assert [a for kw, a in stages["deps"].instructions if kw == "WORKDIR"][-1] == "${LAMBDA_TASK_ROOT}"


def _serving(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            f"exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}"
        )
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail(
        f"nothing answered at {url} within {timeout:.0f}s:\n{log.read_text(errors='replace')[-2000:]}"
    )


POSTING_FORM = re.compile(r"<form\b[^>]*\bmethod=[\"']?post\b", re.I)


def _feedback_answers_its_link(url: str, secret: str) -> None:
    """A page behind a signed "I know this person" link comes back as a form that POSTs; a
    tampered link is refused."""
    from facewatch.frames import Box
    from facewatch.layout import FrameKey
    from facewatch.tokens import sign_face

    now = datetime.now(UTC)
    frame_key = str(FrameKey.new("home", "door", now))
    token = sign_face(secret, "home", frame_key, Box(40, 30, 90, 90), now=now, ttl=timedelta(hours=1))
    page = requests.get(url, params={"token": token}, timeout=30)
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert POSTING_FORM.search(page.text), page.text
    tampered = requests.get(url, params={"token": token[:-3] + "xyz"}, timeout=30)
    assert 400 <= tampered.status_code < 500


def _console_answers_its_pages(url: str, secret: str) -> None:
    """What the console answers before any bucket is read: its pages (templates, package
    data included) render; a page without a session is refused, not served; a tampered
    sign-in link is refused."""
    from facewatch.tokens import sign_in_link

    signed_out = requests.get(url + "signedout", timeout=30)
    assert signed_out.status_code == 200, signed_out.text
    assert signed_out.headers["Content-Type"].startswith("text/html")
    assert "signed out" in signed_out.text.lower()
    no_session = requests.get(url + "faces", timeout=30, allow_redirects=False)
    assert no_session.status_code == 401, no_session.text
    assert no_session.headers["Content-Type"].startswith("text/html")
    token = sign_in_link(secret, "home", now=datetime.now(UTC), ttl=timedelta(minutes=15))
    tampered = requests.get(url + "signin", params={"token": token[:-3] + "xyz"}, timeout=30)
    assert tampered.status_code == 400, tampered.text


# How each function served over HTTP on Lambda shows, from its image's entry point, that it
# really serves: a new one is added here, not skipped.
HTTP_ANSWERS = {"feedback": _feedback_answers_its_link, "console": _console_answers_its_pages}


@pytest.mark.integration
@pytest.mark.parametrize("function", LAMBDA_HTTP_FUNCTIONS)
def test_lambda_http_entry_point_serves_its_pages_from_the_task_root(tmp_path, function):
    """The image's ENTRYPOINT, run the way the image runs it: from LAMBDA_TASK_ROOT holding
    only main.py. Two things differ: python3 is this venv's, the port a free one."""
    from facewatch.local.processes import free_port

    assert function in HTTP_ANSWERS, f"say in HTTP_ANSWERS what {function} answers"
    entrypoint = exec_form(resolved(build_stages(DOCKERFILE_LAMBDA), function, "ENTRYPOINT"))
    assert entrypoint is not None
    task_root = tmp_path / "task"
    task_root.mkdir()
    shutil.copy(REPO / "functions" / function / "main.py", task_root / "main.py")
    port = free_port()
    argv = [sys.executable, *(f"--port={port}" if w.startswith("--port=") else w for w in entrypoint[1:])]
    secret = "entry-point-test-link-secret-0123456789"
    env = {**os.environ, "FACEWATCH_LINK_SECRET": secret, "FACEWATCH_BUCKET": "fw-entry-point"}
    log = tmp_path / f"{function}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=task_root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _serving(url, proc, log)
        HTTP_ANSWERS[function](url, secret)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_lambda_base_image_is_not_amazon_linux_2():
    """The pinned wheels (dlib-bin manylinux_2_27, opencv 4.14 manylinux_2_28, cryptography
    manylinux_2_34) cannot install on python3.11's Amazon Linux 2 (glibc 2.26)."""
    base = global_args(DOCKERFILE_LAMBDA)["LAMBDA_BASE"]
    version = tuple(int(x) for x in base.rsplit(":", 1)[1].split(".")[:2])
    assert version >= (3, 12), base


# --- Dockerfile (functions-framework) ----------------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_functions_framework_target_selects_its_function(function):
    stages = build_stages(DOCKERFILE)
    assert function in stages
    assert env_of(stages, function).get("FUNCTION") == function


def test_functions_framework_command_serves_the_selected_target():
    stages = build_stages(DOCKERFILE)
    cmd = exec_form(resolved(stages, "recognize", "CMD"))
    assert cmd is not None and cmd[:2] == ["/bin/sh", "-c"], "CMD must expand $FUNCTION and $PORT"
    script = cmd[2]
    assert script.startswith("exec functions-framework "), "exec: the server must get the signals"
    for flag in (
        '--target="$FUNCTION"',
        '--source="functions/$FUNCTION/main.py"',
        "--signature-type=http",
        '--port="$PORT"',
    ):
        assert flag in script
    assert env_of(stages, "recognize").get("PORT") == "8080"


def test_functions_framework_default_stage_takes_function_build_arg():
    stages = parse_dockerfile(DOCKERFILE)
    last = stages[-1]
    arg = last.last("ARG")
    assert arg is not None and arg.startswith("FUNCTION=")
    assert arg.partition("=")[2] in FUNCTIONS
    assert ("ENV", "FUNCTION=${FUNCTION}") in last.instructions


def test_functions_framework_image_copies_every_function():
    stages = build_stages(DOCKERFILE)
    copies = [arg.split() for kw, arg in stages["runtime"].instructions if kw == "COPY"]
    assert ["functions", "./functions"] in copies
    workdirs = [arg for kw, arg in stages["runtime"].instructions if kw == "WORKDIR"]
    assert workdirs[-1] == "/app", "the CMD's --source is relative to the working directory"


# --- Dockerfile.agent ---------------------------------------------------------------------------


def test_agent_entrypoint_is_the_agent_command():
    stages = parse_dockerfile(DOCKERFILE_AGENT)
    entrypoint = exec_form(stages[-1].last("ENTRYPOINT"))
    assert entrypoint == ["facewatch", "agent"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("facewatch") == "facewatch.cli.main:main"

    from facewatch.cli.main import main

    assert "agent" in main.commands, "`facewatch agent` is not a command"
    options = {opt for param in main.commands["agent"].params for opt in param.opts}
    assert {"--source", "--household", "--camera"} <= options


# --- all three -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_installs_with_constraints_and_face_recognition_without_deps(dockerfile):
    run = run_text(dockerfile)
    assert re.search(r"pip install (--target \S+ )?-c constraints\.txt \.", run), "facewatch via constraints"
    assert re.search(
        r"pip install (--target \S+ )?--no-deps -c constraints\.txt face_recognition==1\.3\.0", run
    )
    copies = [arg.split() for s in parse_dockerfile(dockerfile) for kw, arg in s.instructions if kw == "COPY"]
    assert any("constraints.txt" in c for c in copies)


def test_constraints_pin_the_face_recognition_the_images_install():
    constraints = (REPO / "constraints.txt").read_text().lower().replace("_", "-")
    pins = re.findall(r"^face-recognition==(\S+)$", constraints, flags=re.M)
    assert pins in ([], ["1.3.0"])


def _dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _ignored(relative: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        parts = Path(relative).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/")) for p in prefixes
        ):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("dockerfile", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_every_copied_path_exists_and_is_in_the_build_context(dockerfile):
    patterns = _dockerignore_patterns()
    for stage in parse_dockerfile(dockerfile):
        for keyword, arg in stage.instructions:
            if keyword != "COPY" or "--from" in arg:
                continue
            sources = [w for w in arg.split() if not w.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source}: no such path"
                assert not _ignored(source, patterns), f"{dockerfile.name}: {source} is in .dockerignore"


def test_package_metadata_files_are_in_the_build_context():
    """pip builds facewatch from pyproject.toml, which names README.md as its readme."""
    patterns = _dockerignore_patterns()
    for needed in ("pyproject.toml", "README.md", "constraints.txt", "src/facewatch/config.py"):
        assert not _ignored(needed, patterns), needed


@pytest.mark.parametrize("dockerfile", ALL_DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned(dockerfile):
    args = global_args(dockerfile)
    names = {s.name for s in parse_dockerfile(dockerfile)}
    for stage in parse_dockerfile(dockerfile):
        if stage.name == "__global__" or stage.base in names:
            continue
        image = substitute(stage.base, args)
        assert ":" in image and not image.endswith(":latest"), f"{dockerfile.name}: unpinned base {image}"


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, DOCKERFILE_LAMBDA], ids=lambda p: p.name)
def test_function_images_carry_the_model_cache(dockerfile: Path) -> None:
    """The image builds the model cache where its functions look for it at run time: a new
    instance then maps dlib's models as numpy arrays instead of parsing the 100 MB file."""
    stages = build_stages(dockerfile)
    cache = env_of(stages, "recognize").get("FACEWATCH_MODEL_CACHE")
    assert cache and cache.startswith("/")
    assert 'facewatch.faces.models build "$FACEWATCH_MODEL_CACHE"' in run_text(dockerfile)
    if dockerfile == DOCKERFILE_LAMBDA:  # a read-only file system: never build at a cold start
        assert env_of(stages, "recognize").get("FACEWATCH_MODEL_CACHE_BUILD") == "0"
