"""docs/configuration.md's settings table is generated from `Settings` (names, defaults,
descriptions from the field docstrings): these tests keep the file equal to the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from facewatch.config import Settings

GENERATOR = Path(__file__).resolve().parents[2] / "docs" / "configuration_table.py"


def _generator() -> ModuleType:
    # A documentation tool beside the document, not a module of the package.
    spec = importlib.util.spec_from_file_location("configuration_table", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _generator()


def test_the_documented_settings_table_is_the_generated_one():
    current = generator.DOCUMENT.read_text(encoding="utf-8")
    assert current == generator.with_table(current, generator.table()), (
        f"docs/configuration.md's settings table differs from facewatch.config.Settings: "
        f"run `{generator.COMMAND}` (or `make docs`)"
    )


def test_every_setting_has_a_description():
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not undocumented, f"give these Settings fields a docstring: {undocumented}"


def test_a_new_setting_appears_with_its_variable_default_and_docstring():
    class More(Settings):
        model_config = SettingsConfigDict(use_attribute_docstrings=True)

        door_bell_volume: int = Field(7, ge=0, le=10)
        """How loud | the bell rings,
        on two lines."""

    row = generator.table(More).splitlines()[-1]
    assert row == (
        "| `FACEWATCH_DOOR_BELL_VOLUME` | `7` | int ≥ 0, ≤ 10 | How loud \\| the bell rings, on two lines. |"
    )


def test_the_table_lists_choices_secrets_lists_and_unset_defaults():
    rows = {line.split(" | ")[0]: line for line in generator.table().splitlines()}
    assert "`smtp`, `ses`" in rows["| `FACEWATCH_ALERT_CHANNEL`"]
    assert rows["| `FACEWATCH_LINK_SECRET`"].startswith("| `FACEWATCH_LINK_SECRET` |  | secret |")
    assert "| comma-separated list |" in rows["| `FACEWATCH_MAIL_TO`"]


def test_a_table_changed_by_hand_is_replaced_between_the_markers_only():
    document = f"intro\n{generator.BEGIN}\n| old | table |\n{generator.END}\nafter\n"
    assert generator.with_table(document, "| new |\n") == (
        f"intro\n{generator.BEGIN}\n| new |\n{generator.END}\nafter\n"
    )


@pytest.mark.parametrize(
    "document",
    [
        "no markers at all\n",
        f"{generator.END}\nbackwards\n{generator.BEGIN}\n",
        f"{generator.BEGIN}\nonly one\n",
    ],
)
def test_a_document_without_its_markers_is_refused(document: str):
    with pytest.raises(generator.MarkersMissing, match="around the settings table"):
        generator.with_table(document, "| new |\n")
