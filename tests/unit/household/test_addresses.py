"""Who an alert may be mailed to (alerts/addresses.py)."""

from __future__ import annotations

import pytest

from facewatch.household.addresses import MAX_RECIPIENTS, BadAddress, check_recipients


@pytest.mark.parametrize(
    "address", ["family@example.test", "household@localhost", "o'brien+alerts@mail.example.org"]
)
def test_plain_addresses_pass(address: str):
    assert check_recipients([address]) == [address]


@pytest.mark.parametrize(
    "address",
    [
        "a@example.test\r\nBcc: all@evil.example",
        "a@example.test\nBcc: all@evil.example",
        "a@example.test ",
        "Family <a@example.test>",
        "a@example.test, b@example.test",
        "not-an-address",
        "@example.test",
        "a@",
        "a..b@example.test",
        "a@-example.test",
        "a@example..test",
        "a\x00@example.test",
        "x" * 65 + "@example.test",
    ],
)
def test_anything_else_is_refused(address: str):
    with pytest.raises(BadAddress):
        check_recipients([address])


def test_at_most_twenty():
    many = [f"n{i}@example.test" for i in range(MAX_RECIPIENTS + 1)]
    assert check_recipients(many[:MAX_RECIPIENTS]) == many[:MAX_RECIPIENTS]
    with pytest.raises(BadAddress, match="at most 20"):
        check_recipients(many)
