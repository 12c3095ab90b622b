"""Who an alert may be mailed to: plain addresses (`name@host`), no display names, no CR/LF
or other control characters (which would write headers of their own into the message) and
at most MAX_RECIPIENTS of them, so a household cannot turn the deployment into a mailer
for anyone. Checked when a household's list is saved and again when an email is built."""

from __future__ import annotations

import re
from collections.abc import Iterable

from facewatch.exceptions import BadInput

MAX_RECIPIENTS = 20
"""A household's alert email goes to at most this many addresses."""

# RFC 5321's dot-atom local part (no quoted strings) at a host name of LDH labels;
# "household@localhost" (the demo's, compose's) has a host of one label.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class BadAddress(BadInput):
    pass


def check_address(address: str) -> str:
    """`address` when it is one plain mail address; BadAddress saying why otherwise."""
    shown = repr(address)[:80]
    if not isinstance(address, str) or any(not c.isprintable() or c.isspace() for c in address):
        raise BadAddress(f"recipient {shown} holds a space, line break or control character")
    local, at, host = address.rpartition("@")
    if (
        not at
        or len(address) > 254
        or len(local) > 64
        or not _LOCAL.fullmatch(local)
        or len(host) > 253
        or not _HOST.fullmatch(host)
    ):
        raise BadAddress(f"recipient {shown} is not a mail address (name@example.org)")
    return address


def check_recipients(addresses: Iterable[str]) -> list[str]:
    """The addresses, each checked, at most MAX_RECIPIENTS; BadAddress otherwise."""
    checked = [check_address(a) for a in addresses]
    if len(checked) > MAX_RECIPIENTS:
        raise BadAddress(f"{len(checked)} recipients: at most {MAX_RECIPIENTS} may get a household's alerts")
    return checked
