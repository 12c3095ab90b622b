"""No test module imports another: what tests share lives in a harness module
(tests/console_site.py, tests/street.py, a conftest.py...), so running, moving or deleting
one test module never changes what another one does."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(source: str) -> list[str]:
    """The test modules (`test_*`) that a module's source imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [n for n in names if n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith("test_")]
    return found


def test_no_test_module_imports_another():
    wrong = {
        str(path.relative_to(TESTS)): imported
        for path in TESTS.rglob("*.py")
        if (imported := imported_test_modules(path.read_text()))
    }
    assert wrong == {}


def test_an_import_of_a_test_module_is_caught():
    assert imported_test_modules("from tests.integration.test_console_security import csrf\n") == [
        "tests.integration.test_console_security"
    ]
    assert imported_test_modules("def f():\n    import tests.unit.test_layering\n") == [
        "tests.unit.test_layering"
    ]
    assert imported_test_modules("from tests.console_site import csrf, sign_in\n") == []
