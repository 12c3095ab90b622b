"""Shared by the infra tests: where things are, what facewatch's settings are called, and
a small Dockerfile reader. Nothing here needs Docker, a cluster or the network."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from facewatch.config import Settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def deployable_functions() -> tuple[str, ...]:
    """Every function the repository has: functions/<name>/main.py. Derived, not listed, so
    a new function is held to every deployment test the day it appears."""
    return tuple(sorted(main.parent.name for main in (REPO / "functions").glob("*/main.py")))


FUNCTIONS = deployable_functions()

# Lambda-only functions, never called over HTTP, so no functions/<name>/main.py: their
# handler is the package's (Dockerfile.lambda's target runs it). Compose and Kubernetes
# run the same code otherwise: the retention sweep as a CronJob of `facewatch retention`,
# the console's export and erasure in the console itself (every function there has the
# bucket's one identity).
LAMBDA_ONLY_FUNCTIONS = {
    "retention": "facewatch.tenant.retention_sweep",
    "household-data": "facewatch.tenant.household_jobs",
}


def settings_env_names() -> set[str]:
    """Every environment variable facewatch reads: FACEWATCH_<FIELD_NAME_UPPER>."""
    prefix = Settings.model_config.get("env_prefix", "FACEWATCH_")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def unknown_facewatch_names(names: object) -> list[str]:
    """FACEWATCH_* names that no setting reads (a typo or a renamed setting)."""
    known = settings_env_names()
    return sorted(n for n in names if str(n).startswith("FACEWATCH_") and n not in known)


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- Dockerfiles -----------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [arg for kw, arg in self.instructions if kw == keyword]
        return values[-1] if values else None


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued RUN
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse_dockerfile(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        arg = arg.strip()
        if keyword == "FROM":
            words = arg.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, arg))
        else:
            # ARGs before the first FROM (global build args)
            stages.append(Stage(base="", name="__global__"))
            stages[-1].instructions.append((keyword, arg))
    return stages


def build_stages(path: Path) -> dict[str, Stage]:
    return {s.name: s for s in parse_dockerfile(path) if s.name and s.name != "__global__"}


def resolved(stages: dict[str, Stage], name: str, keyword: str) -> str | None:
    """The value of CMD/ENTRYPOINT/ENV... a stage ends up with, following FROM <stage> chains."""
    stage = stages[name]
    value = stage.last(keyword)
    if value is None and stage.base in stages:
        return resolved(stages, stage.base, keyword)
    return value


def exec_form(value: str | None) -> list[str] | None:
    """CMD/ENTRYPOINT in exec (JSON) form as a list; None for the shell form."""
    if value is None or not value.startswith("["):
        return None
    return json.loads(value)


def env_of(stages: dict[str, Stage], name: str) -> dict[str, str]:
    """ENV key=value pairs a stage ends up with (its bases' first)."""
    stage = stages[name]
    env = env_of(stages, stage.base) if stage.base in stages else {}
    for keyword, arg in stage.instructions:
        if keyword == "ENV":
            for word in shlex.split(arg):
                key, sep, value = word.partition("=")
                if sep:
                    env[key] = value
    return env


def global_args(path: Path) -> dict[str, str]:
    """ARG defaults declared before the first FROM."""
    args: dict[str, str] = {}
    for stage in parse_dockerfile(path):
        if stage.name != "__global__":
            break
        for keyword, arg in stage.instructions:
            if keyword == "ARG":
                key, _, value = arg.partition("=")
                args[key] = value
    return args


def substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)
