"""How every command reports a refusal: one line on stderr and exit status 2."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from facewatch.exceptions import FacewatchError


def fail(exc: FacewatchError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)
