"""Each Lambda's IAM policy covers the bucket keys its code touches, and nothing more.

What a function touches is derived from the code, not remembered: the modules it runs (the
import closure of its use-case module, read with ast) name the key builders of layout.py
they use, and the storage calls they make. ACCESS says, for each function, which S3 action
it needs on the keys each builder makes; a sample key from every builder is then checked
against the policy the SAM transform yields, with IAM's wildcard matching. So a new key
(a new builder imported by, say, delivery.py) or a new kind of call (storage.delete) fails
here until both ACCESS and infra/aws/template.yaml grant it, and a grant no code needs
fails too. On MinIO (compose, Kubernetes) the functions share one user: its policy
(minio-setup.sh) must allow what every function needs."""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from facewatch import layout
from tests.infra.helpers import FUNCTIONS, LAMBDA_ONLY_FUNCTIONS, REPO
from tests.infra.sam import (
    BUCKET_ARN,
    FUNCTION_IDS,
    OBJECT_ARN,
    decoded_template,
    resources_of,
    role_statements,
    sam_transform,
)

PACKAGE = REPO / "src" / "facewatch"

# The module holding each function's use case; its import closure is what the function runs
# (functions/<name>/main.py goes through handlers.py and web/services.py, which serve them all).
ENTRY = {
    "detect": "facewatch.edge.posted",
    "recognize": "facewatch.recognize.recognizer",
    "notify": "facewatch.alerts.delivery",
    "feedback": "facewatch.web.feedback",
    "console": "facewatch.web.console.app",
    **LAMBDA_ONLY_FUNCTIONS,
}
LAMBDA_FUNCTIONS = (*FUNCTIONS, *LAMBDA_ONLY_FUNCTIONS)

# Modules an entry module imports whose code the function never runs, and why; not followed
# when reading what it touches. test_skipped_services_are_only_used_for_settings_and_storage
# keeps the reason true.
STRANGER_STORE = "facewatch.recognize.stranger_store"
HOUSEHOLD_SETTINGS = "facewatch.household.settings"
ENTRY_SKIP: dict[str, dict[str, str]] = {
    "console": {
        "facewatch.web.services": "app.py takes the per-process Services for its settings and storage "
        "only; the rest Services can build (recognize's Recognizer, notify's notifier and channels) "
        "is other functions' code",
        "facewatch.web.console.household_data": "on Lambda export and erase are handed to "
        "HouseholdDataFunction before touching the bucket, but for presigning the export it made "
        "(READ_BY_SKIPPED); they run in the console on the one-box, compose and Kubernetes, where every "
        "function has the bucket's one identity",
    },
    "retention": {
        STRANGER_STORE: "the sweep reads the stranger memory only through remembered_strangers "
        "(StrangerStore.load), GetObject on the keys READ_BY_SKIPPED names; the store's writes are "
        "recognize's, the console's and feedback's. test_retention_only_reads_the_stranger_memory "
        "(tests/integration/test_retention_schedule.py) keeps it true",
        HOUSEHOLD_SETTINGS: "the sweep only loads a household's settings (its retention_days); "
        "saving them is the CLI's and the console's. The same test keeps it true",
    },
}
SERVICES_USED_FOR = {"settings", "storage"}
# The builders a skipped module uses on the function's behalf, read (GetObject) only.
READ_BY_SKIPPED = {
    "retention": {"strangers_key", "stranger_memory_prefix", "household_settings_key"},
    "console": {"export_key"},  # presigned for the person (web/console/household_data.py)
}

GET, PUT, DELETE, LIST = "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"
TAG, UNTAG = "s3:PutObjectTagging", "s3:DeleteObjectTagging"
BUCKET_ACTIONS = {LIST, "s3:ListBucketVersions"}  # granted on the bucket, by the prefix listed

# function -> action -> the layout builders whose keys it needs that action on. HEAD (exists,
# etag) and presigned GETs are s3:GetObject; a listing is s3:ListBucket on the builder's prefix.
ACCESS: dict[str, dict[str, set[str]]] = {
    "detect": {PUT: {"FrameKey"}, TAG: {"FrameKey"}},
    "recognize": {
        GET: {
            "day_index_key",  # the day summaries, updated as results are
            "people_index_key",
            "FrameKey",
            "classify_key",
            "KnownPhotoKey",
            "known_photo_key",
            "known_prefix",
            "encodings_key",
            "FrameKey.result_key",
            "visits_key",
            "strangers_key",  # the older one-object memory, moved
            "stranger_memory_prefix",
            "negatives_key",
            "arrivals_key",
            "questions_key",
            "household_settings_key",
        },
        PUT: {
            "day_index_key",
            "index_behind_key",  # a summary write that failed: reindex repairs it
            "people_index_key",
            "FrameKey.result_key",
            "encodings_key",
            "visits_key",
            "stranger_memory_prefix",
            "stranger_crop_key",
            "arrivals_key",
            "questions_key",
        },
        DELETE: {"stranger_memory_prefix", "stranger_crops_prefix"},  # a forgotten stranger's crops
        LIST: {"known_prefix", "stranger_crops_prefix"},
    },
    "notify": {
        GET: {
            "FrameKey",
            "household_settings_key",
            "sent_alert_key",
            "alert_claim_key",
            "alert_face_key",
            "announced_key",
            "visits_today_key",
        },
        PUT: {
            "sent_alert_key",
            "alert_claim_key",
            "dead_alert_key",
            "alert_face_key",
            "announced_key",
            "visits_today_key",
        },
        DELETE: {"alert_claim_key"},
        LIST: set(),  # lists nothing itself; see test_readers_get_404_not_403_for_missing_keys
    },
    "feedback": {
        GET: {
            "day_index_key",  # the day summaries, updated as results are
            "people_index_key",
            "FrameKey",
            "FrameKey.result_key",
            "KnownPhotoKey",
            "known_photo_key",
            "known_prefix",
            "encodings_key",
            "strangers_key",  # the older one-object memory, moved
            "stranger_memory_prefix",
            "stranger_crop_key",
            "used_link_key",
            "negatives_key",  # look again judges with them
        },
        PUT: {
            "day_index_key",
            "index_behind_key",  # a summary write that failed: reindex repairs it
            "people_index_key",
            "known_photo_key",
            "encodings_key",
            "stranger_memory_prefix",
            "used_link_key",
            "FrameKey.result_key",
        },
        DELETE: {
            "stranger_memory_prefix",
            "stranger_crops_prefix",
            "used_link_key",
        },  # the named stranger's crops; a failed use's mark
        LIST: {"known_prefix", "stranger_crops_prefix", "results_prefix"},
    },
    # The household's folder: frames only read (to crop faces), results relabelled ("look
    # again"), known people and their encodings, remembered strangers and their crops
    # (deleted and moved), settings, negatives, its sign-in links spent once and its
    # sessions (made at sign-in, read on every request, deleted at sign-out). Not open
    # visits or arrivals: only recognize keeps those.
    "console": {
        GET: {
            "day_index_key",  # the day summaries, updated as results are
            "people_index_key",
            "FrameKey",
            "FrameKey.result_key",
            "results_prefix",
            "KnownPhotoKey",
            "known_photo_key",
            "known_prefix",
            "encodings_key",
            "strangers_key",  # the older one-object memory, moved
            "stranger_memory_prefix",
            "stranger_crop_key",
            "stranger_crops_prefix",
            "household_settings_key",
            "negatives_key",
            "used_link_key",
            "session_key",
            "export_key",  # HouseholdDataFunction's export, presigned for the person (on AWS)
            "questions_key",
        },
        PUT: {
            "day_index_key",
            "index_behind_key",  # a summary write that failed: reindex repairs it
            "people_index_key",
            "FrameKey.result_key",
            "known_photo_key",
            "encodings_key",
            "stranger_memory_prefix",
            "stranger_crop_key",
            "household_settings_key",
            "negatives_key",
            "used_link_key",
            "session_key",
            "questions_key",
        },
        # sessions_prefix: "sign out everywhere" and expired sessions, deleted as listed
        DELETE: {
            "stranger_memory_prefix",
            "known_photo_key",
            "stranger_crop_key",
            "stranger_crops_prefix",
            "session_key",
            "sessions_prefix",
        },
        LIST: {
            "known_prefix",
            "stranger_crops_prefix",
            "frames_prefix",
            "results_prefix",
            "sessions_prefix",
            "index_days_prefix",
        },
    },
    # The daily sweep: what says a frame must stay (settings' retention_days, open visits,
    # remembered strangers, "not X" corrections, named faces' known photos by their keys),
    # and the frames and verdicts past it deleted, the lifecycle tag lifted from marked ones.
    "retention": {
        GET: {
            "household_settings_key",
            "visits_key",
            "strangers_key",  # the older one-object memory, moved
            "stranger_memory_prefix",
            "negatives_key",
        },
        DELETE: {"FrameKey", "FrameKey.result_key"},
        UNTAG: {"FrameKey"},
        LIST: {"known_prefix", "frames_prefix", "results_prefix"},
    },
    # The console's export (the household's whole folder read, the zip written to
    # exports/) and erasure (every version of both deleted, the settings read for its
    # own MQTT broker's retained topics).
    "household-data": {
        GET: {"household_prefix", "results_prefix", "household_settings_key", "announced_key"},
        PUT: {"export_key"},
        DELETE: {"household_prefix", "exports_prefix"},
        "s3:ListBucketVersions": {"household_prefix", "exports_prefix"},
        "s3:DeleteObjectVersion": {"household_prefix", "exports_prefix"},
        LIST: {"household_prefix", "results_prefix", "frames_prefix", "exports_prefix"},
    },
}

# Builders a function's modules import for a path the function itself never takes, and who
# takes it instead.
LISTS_SUMMARIES = "the day summaries are listed by the console's pages and `facewatch reindex`"
NOT_THIS_FUNCTION: dict[str, dict[str, str]] = {
    "recognize": {
        "index_days_prefix": LISTS_SUMMARIES,
        "results_prefix": "day_index_store.reindex lists results: only `facewatch reindex` runs it",
    },
    "feedback": {"index_days_prefix": LISTS_SUMMARIES},
}

# Builders a function's modules use only to check that a key a request names lies inside a
# household's folder, never to name an object of their own; what is then read is granted
# under the builder that made the key.
PICTURE_LINK_CHECK = (
    "tokens.py signs and checks a picture link only for a key under the household's folder (an "
    "alert's frame or face crop, read under the frames/ and alerts/ grants)"
)
CHECKS_ONLY: dict[str, dict[str, str]] = {
    "console": {
        "strangers_prefix": "images.py serves a crop only if its key is under the session household's "
        "strangers/ (stranger_crop_key's keys, read under its grant)",
        "household_prefix": PICTURE_LINK_CHECK,
    },
    "feedback": {"household_prefix": PICTURE_LINK_CHECK},
    "notify": {"household_prefix": PICTURE_LINK_CHECK},
    "household-data": {
        "FrameKey": "tenant/imports.py parses a verdict line's frame key to check it is the "
        "household's; what is written is granted under household_prefix"
    },
}

# Storage's methods (storage.py) and the S3 actions each needs; every public method must be
# here, so a new one is classified before any function may call it unchecked.
STORAGE_ACTIONS: dict[str, tuple[str, ...]] = {
    "get": (GET,),
    "get_json": (GET,),
    "etag": (GET,),
    "exists": (GET,),
    "presigned_url": (GET,),
    "put": (PUT,),
    "put_json": (PUT,),
    "swap": (GET, PUT),  # compare-and-swap: read, then a conditional write
    "swap_from": (GET, PUT),  # swap from a kept version: a conditional write, a read if refused
    "delete": (DELETE,),
    "delete_many": (DELETE,),  # DeleteObjects is authorised as s3:DeleteObject on each key
    "untag": (UNTAG,),  # retention spares a marked frame from the lifecycle rule
    "list_keys": (LIST,),
    "list_households": (LIST,),
    "list_folders": (LIST,),
    "list_versions": ("s3:ListBucketVersions",),  # erasing a household: every version
    "put_file": (PUT,),  # a household's export, in parts
    "delete_version": ("s3:DeleteObjectVersion",),
    "check_bucket": (LIST,),  # HEAD of the bucket
    "ensure_bucket": ("s3:CreateBucket",),  # the local stack's, never a function's
    "from_settings": (),
}

# Sample values for the builders' parameters, by parameter name.
SAMPLE_ARGS = {
    "household": "home",
    "person": "Alice Smith",
    "photo_name": "alice-1.jpg",
    "alert_id": "0123456789abcdef",
    "channel": "email",
    "camera": "door",
    "stranger_id": "stranger-0a1b2c",
    "verdict_id": "door/20260102/030405000000-0a1b2c3d4e5f#0",
    "signature": "q1w2e3r4t5y6u7i8o9p0-_a1s2d3f4g5h6j7k8l9z0x1c",
    "session_id": "1767323045-q1w2e3r4t5y6u7i8o9p0-_",
    "device": "camera_door",
    "day": "20260102",
    "name": "20260102T030405Z-0123456789abcdef",
}
FRAME = layout.FrameKey.new("home", "door", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
KNOWN_PHOTO = layout.known_photo_key("home", "Alice Smith", "alice-1.jpg")
# Builders that take a key rather than parts of one, or are classes.
SAMPLE_KEYS: dict[str, list[str]] = {
    "FrameKey": [str(FRAME)],
    "FrameKey.result_key": [FRAME.result_key],
    "KnownPhotoKey": [KNOWN_PHOTO],
    "classify_key": [str(FRAME), KNOWN_PHOTO],
}


# --- what layout.py offers -------------------------------------------------------------------


def key_classes() -> dict[str, type]:
    """Classes of layout.py that parse a key (FrameKey, KnownPhotoKey)."""
    return {
        name: obj
        for name, obj in vars(layout).items()
        if inspect.isclass(obj) and obj.__module__ == layout.__name__ and hasattr(obj, "parse")
    }


def key_builders() -> dict[str, Callable[..., Any] | None]:
    """Every name in layout.py that makes a key or a prefix: functions *_key / *_prefix, the
    key classes, and their *_key properties as 'Class.attr'."""
    builders: dict[str, Callable[..., Any] | None] = {
        name: obj
        for name, obj in vars(layout).items()
        if inspect.isfunction(obj)
        and obj.__module__ == layout.__name__
        and name.endswith(("_key", "_prefix"))
    }
    for name, cls in key_classes().items():
        builders[name] = None
        for attr in dir(cls):
            if attr.endswith("_key") and isinstance(getattr(cls, attr, None), property):
                builders[f"{name}.{attr}"] = None
    return builders


def sample_keys(builder: str) -> list[str]:
    """Keys the builder makes (for a prefix: an object under it)."""
    if builder in SAMPLE_KEYS:
        return SAMPLE_KEYS[builder]
    make = key_builders()[builder]
    assert make is not None, f"add a sample key for {builder} to SAMPLE_KEYS"
    params = [p for p in inspect.signature(make).parameters.values() if p.default is inspect.Parameter.empty]
    missing = [p.name for p in params if p.name not in SAMPLE_ARGS]
    assert not missing, f"{builder}: add a sample value for {missing} to SAMPLE_ARGS"
    key = make(*(SAMPLE_ARGS[p.name] for p in params))
    return [key + "sample.jpg" if builder.endswith("_prefix") else key]


def sample_prefix(builder: str) -> str:
    make = key_builders()[builder]
    assert make is not None and builder.endswith("_prefix"), f"{builder} is not a prefix: nothing to list"
    params = [p for p in inspect.signature(make).parameters.values() if p.default is inspect.Parameter.empty]
    return make(*(SAMPLE_ARGS[p.name] for p in params))


# --- what the code uses ------------------------------------------------------------------------


def module_path(module: str) -> Path:
    """The file of a dotted facewatch module: `facewatch.a.b` is a/b.py or a/b/__init__.py."""
    parts = module.split(".")
    assert parts[0] == "facewatch", module
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    raise LookupError(f"{module} is imported but no file holds it")


def _is_module(module: str) -> bool:
    try:
        module_path(module)
    except LookupError:
        return False
    return True


def _facewatch_imports(tree: ast.Module) -> set[str]:
    """The facewatch modules a module imports (absolute imports: the project uses no others).
    `from facewatch.web import handlers` imports the module facewatch.web.handlers;
    `from facewatch.frames import Box` imports facewatch.frames."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "facewatch":
            assert node.level == 0, "relative import: the closure reads absolute imports only"
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}")}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "facewatch"}
    return found


def closure(entry: str, skip: Collection[str] = ()) -> dict[str, ast.Module]:
    """The modules of facewatch a module imports, directly or not (function-level imports too),
    not following those in `skip`. A module that no file holds fails here: skipping it
    silently would let this test pass while checking nothing."""
    modules: dict[str, ast.Module] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in modules or name in skip:
            continue
        path = module_path(name)
        modules[name] = ast.parse(path.read_text(), filename=str(path))
        todo.extend(_facewatch_imports(modules[name]))
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        todo.extend(name.rsplit(".", n)[0] for n in range(1, name.count(".")))
    return modules


def builders_used(function: str) -> set[str]:
    return builders_used_by(ENTRY[function], skip=ENTRY_SKIP.get(function, {})) | READ_BY_SKIPPED.get(
        function, set()
    )


def builders_used_by(entry: str, skip: Collection[str] = ()) -> set[str]:
    """The layout builders the module and everything it imports (but `skip`) use."""
    builders = key_builders()
    used: set[str] = set()
    properties = {name.partition(".")[2]: name for name in builders if "." in name}
    for name, tree in closure(entry, skip).items():
        layout_aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == layout.__name__:
                used |= {a.name for a in node.names if a.name in builders}
            elif isinstance(node, ast.ImportFrom) and node.module == "facewatch":
                layout_aliases |= {a.asname or a.name for a in node.names if a.name == "layout"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                if (
                    isinstance(node.value, ast.Name)
                    and node.value.id in layout_aliases
                    and node.attr in builders
                ):
                    used.add(node.attr)
                elif node.attr in properties and name != layout.__name__:
                    used.add(properties[node.attr])
    return used


def storage_actions_called(function: str) -> set[str]:
    """S3 actions behind the storage calls (`storage.x(...)`, `self.storage.x(...)`)."""
    actions = set()
    for tree in closure(ENTRY[function], skip=ENTRY_SKIP.get(function, {})).values():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            named_storage = (isinstance(owner, ast.Name) and owner.id == "storage") or (
                isinstance(owner, ast.Attribute) and owner.attr == "storage"
            )
            if named_storage and node.func.attr in STORAGE_ACTIONS:
                actions.update(STORAGE_ACTIONS[node.func.attr])
    return actions


# --- what the policy grants ---------------------------------------------------------------------


def iam_matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: * any run of characters ('/' included), ? one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


@pytest.fixture(scope="module")
def policies() -> dict[str, list[dict[str, Any]]]:
    transformed = sam_transform(decoded_template())
    return {f: role_statements(transformed, logical_id) for f, logical_id in FUNCTION_IDS.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_text(value: Any) -> str:
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return value if isinstance(value, str) else ""


def allows_object(
    statements: list[dict[str, Any]], action: str, key: str, object_arn: str = OBJECT_ARN
) -> bool:
    for st in statements:
        if st.get("Effect") == "Allow" and action in _as_list(st["Action"]):
            for resource in map(_resource_text, _as_list(st["Resource"])):
                if resource.startswith(object_arn) and iam_matches(resource[len(object_arn) :], key):
                    return True
    return False


def allows_listing(statements: list[dict[str, Any]], prefix: str, action: str = LIST) -> bool:
    for st in statements:
        if st.get("Effect") != "Allow" or action not in _as_list(st["Action"]):
            continue
        if BUCKET_ARN not in map(_resource_text, _as_list(st["Resource"])):
            continue
        conditions = [v.get("s3:prefix") for v in st.get("Condition", {}).values()]
        patterns = [p for c in conditions if c is not None for p in _as_list(c)]
        if not conditions or any(iam_matches(p, prefix) for p in patterns):
            return True
    return False


# --- the tests ------------------------------------------------------------------------------------


def test_every_function_has_its_use_case_module_and_access_declared():
    assert set(ENTRY) == set(LAMBDA_FUNCTIONS), "say which module holds a new function's use case (ENTRY)"
    assert set(ACCESS) == set(LAMBDA_FUNCTIONS), "say what a new function does to which keys (ACCESS)"
    for entry in ENTRY.values():
        module_path(entry)
    assert set(FUNCTION_IDS) == set(LAMBDA_FUNCTIONS)


def test_the_tables_name_builders_layout_has():
    builders = key_builders()
    named = {b for table in ACCESS.values() for names in table.values() for b in names}
    named |= {b for table in NOT_THIS_FUNCTION.values() for b in table}
    named |= {b for table in CHECKS_ONLY.values() for b in table}
    named |= set(CLI_NEVER_READS)
    assert named <= set(builders), f"not in layout.py: {sorted(named - set(builders))}"


def test_every_storage_method_has_its_s3_actions():
    from facewatch.store.storage import Storage

    public = {name for name, _ in inspect.getmembers(Storage, callable) if not name.startswith("_")}
    assert public <= set(STORAGE_ACTIONS), (
        f"say which S3 actions {sorted(public - set(STORAGE_ACTIONS))} need"
    )


CONSOLE_HOUSEHOLD_DATA = "facewatch.web.console.household_data"


def test_console_export_and_erase_refuse_on_lambda_without_the_function_before_touching_the_bucket(
    monkeypatch,
):
    """ENTRY_SKIP's reason for the console's export and erase, checked: on Lambda without
    HouseholdDataFunction neither calls storage (any use of this storage fails the test);
    with it, tests/integration/test_household_data_lambda.py."""
    from facewatch.web.console import household_data
    from facewatch.web.transport import Forbidden

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"storage.{name} used on Lambda")

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "facewatch-console")
    monkeypatch.delenv("FACEWATCH_HOUSEHOLD_DATA_FUNCTION", raising=False)
    from facewatch.config import get_settings

    get_settings.cache_clear()  # read once per process: read again without it
    with pytest.raises(Forbidden, match="operator"):
        household_data.export(Untouchable(), "home")  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="operator"):
        household_data.erase(Untouchable(), None, "home", {"confirm": "home"})  # type: ignore[arg-type]


def test_skipped_services_are_only_used_for_settings_and_storage():
    """ENTRY_SKIP's reason, checked: the modules that read the skipped Services use nothing
    of it but its settings and storage (`services.x`, the entry's own name for it)."""
    assert set(ENTRY_SKIP) <= set(ENTRY)
    for function, skipped in ENTRY_SKIP.items():
        assert set(skipped) <= {
            "facewatch.web.services",
            CONSOLE_HOUSEHOLD_DATA,
            STRANGER_STORE,
            HOUSEHOLD_SETTINGS,
        }, "say how the new skip is kept true"
        if "facewatch.web.services" not in skipped:
            continue  # kept true by the test its reason names
        modules = closure(ENTRY[function], skip=skipped)
        users = {
            name for name, tree in modules.items() if "facewatch.web.services" in _facewatch_imports(tree)
        }
        assert users, f"{function}: nothing imports facewatch.web.services any more: drop the skip"
        main = REPO / "functions" / function / "main.py"
        for path in [module_path(u) for u in users] + [main]:
            used = {
                node.attr
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "services"
            }
            assert used <= SERVICES_USED_FOR, f"{path.name} uses services.{sorted(used - SERVICES_USED_FOR)}"


@pytest.mark.parametrize("function", LAMBDA_FUNCTIONS)
def test_closure_holds_every_module_the_function_really_imports(function):
    """A control on the reading itself: the modules a fresh interpreter has loaded after
    importing the use case (sys.modules) are all in the closure read from the source, so a
    move or a new kind of import cannot shrink what the policy checks below."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {ENTRY[function]}; "
            "print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'facewatch'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    read = set(closure(ENTRY[function]))
    missing = {m for m in loaded if m != "facewatch"} - read
    assert not missing, f"{function}: imported but not read by closure(): {sorted(missing)}"
    assert len(read) >= 8 or function == "detect", f"{function}: only {sorted(read)}"


def test_builders_are_found_in_the_code():
    """A control: the reading of the code sees builders through every route the code uses."""
    assert {"alert_claim_key", "sent_alert_key", "household_settings_key"} <= builders_used("notify")
    assert "FrameKey.result_key" in builders_used("recognize"), "an attribute of a FrameKey"
    assert {GET, PUT, DELETE} <= storage_actions_called("notify")
    assert storage_actions_called("detect") == {PUT}


@pytest.mark.parametrize("function", LAMBDA_FUNCTIONS)
def test_access_table_matches_the_keys_the_code_builds(function):
    used = builders_used(function)
    declared = {b for names in ACCESS[function].values() for b in names}
    excused = set(NOT_THIS_FUNCTION.get(function, {})) | set(CHECKS_ONLY.get(function, {}))
    assert excused <= used, f"{function}: excused {sorted(excused - used)}, which its code no longer builds"
    assert not used - declared - excused, (
        f"{function}'s code builds keys with {sorted(used - declared - excused)}: grant what it does to them "
        "in infra/aws/template.yaml and add them to ACCESS"
    )
    assert not declared - used, (
        f"ACCESS gives {function} {sorted(declared - used)}, which its code never builds"
    )


@pytest.mark.parametrize("function", LAMBDA_FUNCTIONS)
def test_access_table_has_every_kind_of_storage_call_the_code_makes(function):
    called = storage_actions_called(function)
    assert called <= set(ACCESS[function]), (
        f"{function}'s code calls storage for {sorted(called - set(ACCESS[function]))}, which ACCESS "
        "(and so its IAM policy) does not give it"
    )


@pytest.mark.parametrize("function", LAMBDA_FUNCTIONS)
def test_policy_grants_every_access_the_code_needs(policies, function):
    statements = policies[function]
    missing = []
    for action, builders in ACCESS[function].items():
        for builder in sorted(builders):
            if action in BUCKET_ACTIONS:
                if not allows_listing(statements, sample_prefix(builder), action):
                    missing.append(f"{action} {sample_prefix(builder)}")
                continue
            missing += [
                f"{action} {key}"
                for key in sample_keys(builder)
                if not allows_object(statements, action, key)
            ]
    assert not missing, f"{function}'s IAM policy does not allow:\n" + "\n".join(missing)


@pytest.mark.parametrize("function", LAMBDA_FUNCTIONS)
def test_policy_grants_no_object_access_the_code_does_not_need(policies, function):
    needed = {
        action: [key for builder in builders for key in sample_keys(builder)]
        for action, builders in ACCESS[function].items()
        if action not in BUCKET_ACTIONS
    }
    extra = []
    for st in policies[function]:
        for action in (a for a in _as_list(st["Action"]) if a.startswith("s3:") and a not in BUCKET_ACTIONS):
            for resource in map(_resource_text, _as_list(st["Resource"])):
                pattern = resource[len(OBJECT_ARN) :]
                if not any(iam_matches(pattern, key) for key in needed.get(action, [])):
                    extra.append(f"{action} {resource}")
    assert not extra, f"{function}'s IAM policy grants what no code of it uses:\n" + "\n".join(extra)


@pytest.mark.parametrize("function", [f for f in LAMBDA_FUNCTIONS if GET in ACCESS[f]])
def test_readers_get_404_not_403_for_missing_keys(policies, function):
    """S3 answers a read of a missing key with 404 only to a caller that may list the bucket;
    the code tells 'not there yet' (ObjectMissing) from a failure by it. The check behind it
    carries no s3:prefix, hence StringLikeIfExists."""
    listings = [st for st in policies[function] if LIST in _as_list(st["Action"])]
    assert listings, f"{function} reads keys that may be missing but may not list the bucket"
    for st in listings:
        # household-data lists the household's exports too (erasing them).
        assert st["Condition"] in (
            {"StringLikeIfExists": {"s3:prefix": "households/*"}},
            {"StringLikeIfExists": {"s3:prefix": ["households/*", "exports/*"]}},
        )


def test_policy_check_is_really_checking(policies):
    """A control: notify without its claim grants (the gap the last session left) fails."""
    trimmed = [
        {**st, "Resource": [r for r in _as_list(st["Resource"]) if "alerts/claims" not in _resource_text(r)]}
        for st in policies["notify"]
    ]
    claim = sample_keys("alert_claim_key")[0]
    assert allows_object(policies["notify"], DELETE, claim)
    assert not allows_object(trimmed, DELETE, claim)
    assert not allows_object(policies["detect"], GET, str(FRAME))
    assert allows_listing(policies["feedback"], sample_prefix("known_prefix"))
    assert not allows_listing(policies["detect"], sample_prefix("known_prefix"))
    # the console reads frames but never writes one (it would be judged again)
    assert allows_object(policies["console"], GET, str(FRAME))
    assert not allows_object(policies["console"], PUT, str(FRAME))


# CLI modules that never touch the deployment's bucket, and why.
LOCAL_ONLY_CLI = {
    "facewatch.local.demo": "`facewatch demo` runs its own local S3 server (stack.py)",
    "facewatch.local.evaluation": "`facewatch eval` enrolls into its own S3 server, borrows the judging",
    "facewatch.local.stack": "the local stack: a moto S3 server and the functions as processes",
}


# Builders the CLI's modules use without reading the keys they make, and why.
CLI_NEVER_READS = {
    "used_link_key": "`facewatch console-link` only signs a sign-in link (web.console.session); the console "
    "records its one use and reads it (ConsoleFunction)",
    "session_key": "`facewatch console-link` only signs a sign-in link; the console keeps the sessions "
    "spending it makes (ConsoleFunction)",
    "sessions_prefix": "the same: sign-out and expiry are the console's (ConsoleFunction)",
    "household_prefix": PICTURE_LINK_CHECK,
}


def test_household_admin_may_read_every_key_the_cli_builds():
    """HouseholdAdminPolicy is for whoever runs the facewatch commands (enroll, events, alerts
    retry, strangers, name-stranger, not, report): whatever key the CLI's modules build, it
    may read (what it may write is spelled out in the template)."""
    transformed = sam_transform(decoded_template())
    (admin,) = [
        v["Properties"]["PolicyDocument"]["Statement"]
        for k, v in resources_of(transformed, "AWS::IAM::ManagedPolicy").items()
        if k == "HouseholdAdminPolicy"
    ]
    built = builders_used_by("facewatch.cli.main", skip=LOCAL_ONLY_CLI)
    assert set(CLI_NEVER_READS) <= built, "CLI_NEVER_READS names a builder the CLI no longer uses"
    unreadable = [
        key
        for builder in sorted(built - set(CLI_NEVER_READS))
        for key in sample_keys(builder)
        if not allows_object(admin, GET, key, object_arn="${FacesBucket.Arn}/")
    ]
    assert not unreadable, "HouseholdAdminPolicy may not read:\n" + "\n".join(unreadable)


# --- MinIO (compose and Kubernetes): one application user for every function ----------------------


def minio_app_policy() -> list[dict[str, Any]]:
    """The policy minio-setup.sh gives the functions' user, for a bucket named 'facewatch'."""
    script = (REPO / "infra" / "k8s" / "minio-setup.sh").read_text()
    document = re.search(r"<<EOF\n(.*?)\nEOF\n", script, flags=re.S)
    assert document, "minio-setup.sh no longer writes the policy as a heredoc"
    return json.loads(document.group(1).replace("$BUCKET", "facewatch"))["Statement"]


def minio_allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        st["Effect"] == "Allow"
        and any(iam_matches(a, action) for a in _as_list(st["Action"]))
        and any(iam_matches(r, resource) for r in _as_list(st["Resource"]))
        for st in statements
    )


# On MinIO the console exports and erases itself, streaming the zip: nothing of exports/.
AWS_ONLY_BUILDERS = {"export_key", "exports_prefix"}


@pytest.mark.parametrize("function", [f for f in LAMBDA_FUNCTIONS if f != "household-data"])
def test_minio_application_user_may_do_what_the_function_needs(function):
    statements = minio_app_policy()
    missing = []
    for action, every in ACCESS[function].items():
        builders = every - AWS_ONLY_BUILDERS
        if action == LIST:
            if builders and not minio_allows(statements, LIST, "arn:aws:s3:::facewatch"):
                missing.append(LIST)
            continue
        for key in (k for b in sorted(builders) for k in sample_keys(b)):
            if not minio_allows(statements, action, f"arn:aws:s3:::facewatch/{key}"):
                missing.append(f"{action} {key}")
    assert not missing, f"minio-setup.sh's user cannot do what {function} needs:\n" + "\n".join(missing)


@pytest.mark.parametrize("scope", ["any", "tagged"])
def test_an_edge_agent_may_upload_frames_and_nothing_else_and_when_tagged_of_its_household_only(scope):
    """The agent's key sits in a camera on someone's premises: with AgentHouseholdScope
    tagged, a key taken from one household's camera cannot file frames under another."""
    template = decoded_template()
    (statement,) = template["Resources"]["EdgeAgentPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    condition, tagged, untagged = statement["Resource"]["Fn::If"]
    assert condition == "AgentsTagged"
    assert template["Conditions"]["AgentsTagged"] == {
        "Fn::Equals": [{"Ref": "AgentHouseholdScope"}, "tagged"]
    }
    # CloudFormation's ${!x} is the literal ${x}: IAM fills in the principal's tag.
    resource = (tagged if scope == "tagged" else untagged)["Fn::Sub"].replace(
        "${!aws:PrincipalTag/facewatch-household}", "home"
    )
    arn = "${FacesBucket.Arn}/"
    # PutObjectTagging: a frame uploaded with the lifecycle rule's tag (FrameExpiryDays)
    assert statement["Action"] == ["s3:PutObject", "s3:PutObjectTagging"] and resource.startswith(arn)
    frame = str(layout.FrameKey.new("home", "door", datetime(2026, 11, 25, tzinfo=UTC)))
    neighbours = frame.replace("households/home/", "households/shop/")
    assert iam_matches(resource[len(arn) :], frame)
    assert iam_matches(resource[len(arn) :], neighbours) == (scope == "any")
    for other in (layout.encodings_key("home"), layout.household_settings_key("home")):
        assert not iam_matches(resource[len(arn) :], other)
