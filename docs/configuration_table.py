"""Writes the settings table of docs/configuration.md from `facewatch.config.Settings`: each
field's environment variable, default, values and description (the field's docstring), so
the reference cannot drift from the one settings object. A unit test
(tests/unit/test_configuration_doc.py) fails while the file's table differs.

    python docs/configuration_table.py           # rewrite the table in place (make docs)
    python docs/configuration_table.py --check   # exit 1 when it differs

A documentation tool, not part of the package: nothing that runs facewatch needs it."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from facewatch.config import Settings

DOCUMENT = Path(__file__).resolve().parent / "configuration.md"
BEGIN = "<!-- settings table: generated from facewatch.config.Settings by docs/configuration_table.py -->"
END = "<!-- end of the generated settings table -->"
COMMAND = "python docs/configuration_table.py"

_BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)


class MarkersMissing(ValueError):
    """The document has no place for the table: both markers must be there, in order."""


def _cell(text: str) -> str:
    # One table row per field: a docstring's line breaks become spaces, and a `|` in it
    # must not end the cell.
    return " ".join(text.split()).replace("|", "\\|")


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _values(field: FieldInfo) -> str:
    annotation = _unwrap_optional(field.annotation)
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{choice}`" for choice in get_args(annotation))
    # A choice read from a registry (the detectors) names its choices in the JSON schema.
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if isinstance(extra.get("enum"), list):
        return ", ".join(f"`{choice}`" for choice in extra["enum"])
    if get_origin(annotation) is list:
        kind = "comma-separated list"
    elif annotation is SecretStr:
        kind = "secret"
    elif isinstance(annotation, type) and issubclass(annotation, Path):
        kind = "path"
    else:
        kind = getattr(annotation, "__name__", "text")
    bounds = [
        f"{sign} {getattr(rule, attribute)}"
        for rule in field.metadata
        for bound, attribute, sign in _BOUNDS
        if isinstance(rule, bound)
    ]
    return " ".join([kind, ", ".join(bounds)]).strip()


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None or value == []:
        return ""
    return f"`{value}`"


def table(settings: type[BaseSettings] = Settings) -> str:
    """The markdown table of every field of `settings`, in declaration order."""
    prefix = settings.model_config.get("env_prefix", "")
    rows = [
        "| variable | default | values | what it does |",
        "|---|---|---|---|",
    ]
    for name, field in settings.model_fields.items():
        variable = (field.validation_alias if isinstance(field.validation_alias, str) else None) or (
            f"{prefix}{name}".upper()
        )
        cells = [f"`{variable}`", _default(field), _cell(_values(field)), _cell(field.description or "")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def with_table(document: str, generated: str) -> str:
    """`document` with the text between the markers replaced by `generated`."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise MarkersMissing(f"the document needs the lines\n{BEGIN}\n{END}\naround the settings table")
    return document[: start + len(BEGIN)] + "\n" + generated + document[end:]


def main(argv: list[str]) -> int:
    current = DOCUMENT.read_text(encoding="utf-8")
    wanted = with_table(current, table())
    if "--check" in argv:
        if current != wanted:
            print(f"{DOCUMENT} differs from Settings: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOCUMENT.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
