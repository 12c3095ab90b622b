"""The package's boundaries, kept by measurement: each module is imported alone in a fresh
interpreter and what it loaded (sys.modules) is checked against the rules below. Reading
import lines would miss what a dependency drags in, and function-level imports that run
at import time; this sees exactly what a function instance or the edge agent pays for.

The rules:
- the edge tier never loads recognize, alerts, the local stack or the CLI;
- recognize reaches alerts only through the hand-over (`alerts/handover.py`): a household's
  settings and rules are `household/`'s, records both read are the kernel's;
- a household's settings and rules load neither recognize nor alerts;
- the pure decision modules never load storage, boto3, OpenCV, dlib, HTTP or click;
- nothing outside `cli/` loads click, and nothing that deploys loads `local/` or `cli/`;
- the top of the package is a small kernel: at most 10 modules besides `__init__.py`;
- no circle of imports among the package's modules, read from the source with the imports
  inside functions, which the probe never runs and which would otherwise hide one."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "facewatch"

# One interpreter, which never imports facewatch itself: it forks a child per module, and
# each child imports that one module and reports sys.modules. A fork costs milliseconds, a
# new interpreter a second; both start from nothing of facewatch.
PROBE = r"""
import importlib, json, os, sys
modules, extra = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for name in modules:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            for package, folder in extra.items():  # throwaway modules of the tests
                importlib.import_module(package).__path__.append(folder)
            importlib.import_module(name)
            found = sorted(sys.modules)
        except BaseException as exc:
            found = ["!error " + type(exc).__name__ + ": " + str(exc)]
        os.write(w, json.dumps(found).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    out[name] = json.loads(data)
print(json.dumps(out))
"""

EDGE_MUST_NOT_LOAD = ("facewatch.recognize", "facewatch.alerts", "facewatch.local", "facewatch.cli")
RECOGNIZE_MAY_LOAD_OF_ALERTS = ("facewatch.alerts", "facewatch.alerts.handover")
HOUSEHOLD_MUST_NOT_LOAD = ("facewatch.recognize", "facewatch.alerts")
PURE = (
    "facewatch.recognize.decisions",
    "facewatch.recognize.questions",
    "facewatch.recognize.visits",
    "facewatch.recognize.strangers",
    "facewatch.recognize.triggers",
    "facewatch.recognize.photo_gates",
    "facewatch.recognize.household_check",
    "facewatch.edge.tracking",
    "facewatch.faces.gallery",
    "facewatch.alerts.retries",
    "facewatch.household.rules",
    "facewatch.alerts.home_assistant",
    "facewatch.alerts.presence",
    "facewatch.templates",  # a page is text: pictures come in as bytes
)
PURE_MUST_NOT_LOAD = ("facewatch.store", "boto3", "botocore", "cv2", "dlib", "requests", "click")
NEVER_DEPLOYED = ("facewatch.local", "facewatch.cli")


def package_modules() -> list[str]:
    """Every module of the package, found by its files (importing would load them)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # runs the CLI when imported
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def loaded_by(modules: Iterable[str], extra: Mapping[str, str] | None = None) -> dict[str, set[str]]:
    """What each module loads, probed by one interpreter per core (each forks per module)."""
    names = list(modules)
    shares = [names[i :: os.cpu_count() or 1] for i in range(min(len(names), os.cpu_count() or 1))]
    probes = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE, json.dumps(share), json.dumps(dict(extra or {}))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]
    found: dict[str, list[str]] = {}
    for probe in probes:
        out, err = probe.communicate(timeout=300)
        assert probe.returncode == 0, err
        found.update(json.loads(out.splitlines()[-1]))
    errors = {m: v[0] for m, v in found.items() if v and v[0].startswith("!error")}
    assert not errors, f"modules that do not import alone: {errors}"
    return {m: set(v) for m, v in found.items()}


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(module: str, loaded: set[str], pure: Iterable[str] = PURE) -> list[str]:
    """What `module` loaded against the rules, as readable lines."""
    found = []
    if _within(module, ["facewatch.edge"]):
        found += [f"{module} (edge) loads {m}" for m in sorted(loaded) if _within(m, EDGE_MUST_NOT_LOAD)]
    if _within(module, ["facewatch.recognize"]):
        found += [
            f"{module} (recognize) loads {m}: only the hand-over of alerts"
            for m in sorted(loaded)
            if _within(m, ["facewatch.alerts"]) and m not in RECOGNIZE_MAY_LOAD_OF_ALERTS
        ]
    if _within(module, ["facewatch.household"]):
        found += [
            f"{module} (household) loads {m}" for m in sorted(loaded) if _within(m, HOUSEHOLD_MUST_NOT_LOAD)
        ]
    if module in pure:
        found += [f"{module} (pure) loads {m}" for m in sorted(loaded) if _within(m, PURE_MUST_NOT_LOAD)]
    if not _within(module, ["facewatch.cli"]) and "click" in loaded:
        found.append(f"{module} (outside cli/) loads click")
    if not _within(module, NEVER_DEPLOYED):
        found += [f"{module} (deployed) loads {m}" for m in sorted(loaded) if _within(m, NEVER_DEPLOYED)]
    return found


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    return loaded_by(package_modules())


def test_every_module_keeps_the_rules(loaded):
    broken = [line for module, mods in loaded.items() for line in violations(module, mods)]
    assert not broken, "\n".join(broken)


def test_the_probe_sees_what_a_module_really_loads(loaded):
    """A control: the probe is not vacuous. recognize's use case loads storage and OpenCV,
    the CLI loads click, and the agent's run loop loads the edge pipeline."""
    assert {"facewatch.store.storage", "cv2"} <= loaded["facewatch.recognize.recognizer"]
    assert "click" in loaded["facewatch.cli.main"]
    assert "facewatch.edge.pipeline" in loaded["facewatch.edge.agent"]
    assert all(name in loaded for name in PURE), "a pure module was renamed: say so in PURE"


def test_a_wrong_import_is_caught(tmp_path):
    """A throwaway edge module that reaches into recognize, a throwaway decision module that
    talks to storage, and a throwaway recognize module that reaches past the hand-over into
    delivery all fail the rules; one that hands over does not."""
    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "leaky.py").write_text("import facewatch.recognize.visit_store\n")
    (tmp_path / "recognize").mkdir()
    (tmp_path / "recognize" / "impure.py").write_text("from facewatch.store.storage import Storage\n")
    (tmp_path / "recognize" / "sends.py").write_text("from facewatch.alerts.delivery import deliver\n")
    (tmp_path / "recognize" / "hands_over.py").write_text("from facewatch.alerts.handover import Notifier\n")
    found = loaded_by(
        [
            "facewatch.edge.leaky",
            "facewatch.recognize.impure",
            "facewatch.recognize.sends",
            "facewatch.recognize.hands_over",
        ],
        {"facewatch.edge": str(tmp_path / "edge"), "facewatch.recognize": str(tmp_path / "recognize")},
    )
    edge = violations("facewatch.edge.leaky", found["facewatch.edge.leaky"])
    assert "facewatch.edge.leaky (edge) loads facewatch.recognize.visit_store" in edge
    impure = violations(
        "facewatch.recognize.impure", found["facewatch.recognize.impure"], pure=["facewatch.recognize.impure"]
    )
    assert "facewatch.recognize.impure (pure) loads boto3" in impure
    sends = violations("facewatch.recognize.sends", found["facewatch.recognize.sends"])
    assert (
        "facewatch.recognize.sends (recognize) loads facewatch.alerts.delivery: only the hand-over of alerts"
        in sends
    )
    assert violations("facewatch.recognize.hands_over", found["facewatch.recognize.hands_over"]) == []


def test_only_cli_modules_import_click_in_their_source():
    """The same rule read from the source, which also covers imports inside functions that
    no import-time probe runs."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts[:1]
        and any(
            line.strip().startswith(("import click", "from click")) for line in path.read_text().splitlines()
        )
    ]
    assert not offenders, f"click imported outside cli/: {offenders}"


def test_the_top_of_the_package_is_a_small_kernel():
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 10, f"{len(top)} modules at the top of the package: {top}"


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The nodes under `if TYPE_CHECKING:`: imports that never run, read by mypy alone."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports, at any depth of its
    source (module level, class bodies, functions). `from facewatch.a import b` imports the
    module facewatch.a.b where there is one, else facewatch.a."""
    files = {
        ".".join(parts[:-1] if parts[-1] == "__init__" else parts): path
        for path in sorted(package.rglob("*.py"))
        for parts in [path.relative_to(package.parent).with_suffix("").parts]
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_only(tree)
        named: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                named |= {
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                    for a in node.names
                }
            elif isinstance(node, ast.Import):
                named |= {a.name for a in node.names}
        graph[module] = {m for m in named if m in files and m != module}
    return graph


def import_circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another round a circle (the strongly connected
    components of more than one module, Tarjan's), as one circle through its first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while (top := stack.pop()) != module:
                group.append(top)
            if group:
                groups.append(sorted([*group, module]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_circle_through(group[0], set(group), graph) for group in groups]


def _circle_through(start: str, group: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A shortest path from `start` back to itself inside `group` (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for other in sorted(graph[module] & group):
            if other == start:
                return [*paths[module], start]
            if other not in paths:
                paths[other] = [*paths[module], other]
                queue.append(other)
    raise AssertionError(f"{start} is in no circle of {sorted(group)}")


def test_no_circle_of_imports_even_through_a_function():
    circles = import_circles(import_graph())
    assert not circles, "modules importing each other round a circle:\n" + "\n".join(
        " -> ".join(circle) for circle in circles
    )


def test_recognize_reaches_alerts_only_through_the_handover_even_in_a_function():
    """The probe's rule read from the source, which also covers imports inside functions."""
    reaching = [
        f"{module} imports {other}"
        for module, imported in import_graph().items()
        if _within(module, ["facewatch.recognize"])
        for other in sorted(imported)
        if _within(other, ["facewatch.alerts"]) and other not in RECOGNIZE_MAY_LOAD_OF_ALERTS
    ]
    assert not reaching, "\n".join(reaching)


def test_a_circle_hidden_in_a_function_is_found(tmp_path):
    """A control: two throwaway modules, one importing the other at its top and the other
    importing it back inside a function, are a circle; a type-only import back is not."""
    package = tmp_path / "facewatch"
    (package / "faces").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "faces" / "__init__.py").write_text("")
    (package / "faces" / "a.py").write_text("from facewatch.faces import b\n")
    (package / "faces" / "b.py").write_text("def f():\n    from facewatch.faces.a import g\n")
    (package / "faces" / "c.py").write_text("from facewatch.faces.d import x\n")
    (package / "faces" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from facewatch.faces import c\n"
    )
    graph = import_graph(package)
    assert graph["facewatch.faces.b"] == {"facewatch.faces.a"}
    assert import_circles(graph) == [["facewatch.faces.a", "facewatch.faces.b", "facewatch.faces.a"]]
