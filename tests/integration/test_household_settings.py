"""A household's settings are changed by compare-and-swap: the console's settings form and
`facewatch household` editing at the same moment both land, on a real S3 server."""

from __future__ import annotations

import threading

import pytest

from facewatch.exceptions import BadInput
from facewatch.household.settings import (
    HouseholdSettings,
    change_household_settings,
    load_household_settings,
    save_household_settings,
)
from facewatch.layout import household_settings_key
from facewatch.store.storage import Storage

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stored_before", [True, False], ids=["stored", "none yet"])
def test_two_edits_at_once_both_land(storage: Storage, stored_before: bool):
    if stored_before:
        save_household_settings(storage, "home", HouseholdSettings(timezone="Europe/Berlin"))
    both_read = threading.Barrier(2, timeout=10)
    calls = {"console": 0, "cli": 0}

    def edit(who: str, update: dict[str, object]):
        def change(current: HouseholdSettings) -> HouseholdSettings:
            calls[who] += 1
            if calls[who] == 1:
                both_read.wait()  # each has read the same version before either writes
            return current.model_copy(update=update)

        return change

    edits = [
        threading.Thread(
            target=change_household_settings,
            args=(storage, "home", edit("console", {"mail_to": ["a@x.test"]})),
        ),
        threading.Thread(
            target=change_household_settings, args=(storage, "home", edit("cli", {"no_alerts": ["s-1"]}))
        ),
    ]
    for thread in edits:
        thread.start()
    for thread in edits:
        thread.join(timeout=30)

    final = load_household_settings(storage, "home")
    assert final.mail_to == ["a@x.test"] and final.no_alerts == ["s-1"]
    assert final.timezone == ("Europe/Berlin" if stored_before else None)
    assert sorted(calls.values()) == [1, 2]  # the race's loser was applied again to the winner's


def test_an_edit_that_changes_nothing_writes_nothing(storage: Storage):
    assert change_household_settings(storage, "home", lambda s: s) == HouseholdSettings()
    assert not storage.exists(household_settings_key("home"))
    save_household_settings(storage, "home", HouseholdSettings(channels=["email", "mqtt"]))
    etag = storage.etag(household_settings_key("home"))
    change_household_settings(storage, "home", lambda s: s.model_copy(update={"channels": ["email", "mqtt"]}))
    assert storage.etag(household_settings_key("home")) == etag


def test_an_edit_of_invalid_settings_is_refused_and_leaves_them(storage: Storage):
    key = household_settings_key("home")
    storage.put(key, b'{"channels": ["pager"]}', content_type="application/json")
    with pytest.raises(BadInput, match=r"settings\.json is invalid"):
        change_household_settings(storage, "home", lambda s: s.model_copy(update={"mail_to": ["a@x.test"]}))
    assert storage.get(key).body == b'{"channels": ["pager"]}'
