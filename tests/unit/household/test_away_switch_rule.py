"""The away switch as a household rule: the setting (armed by default, also for settings
written before it existed), the rule, and its typed record beside the words."""

from __future__ import annotations

import json

from facewatch.household.rules import DISARMED_DETAIL, away_switch_holds
from facewatch.household.settings import HouseholdSettings
from facewatch.records import AlertOutcome, DeliveryStatus, HeldBack, HeldBackBy


def test_disarmed_holds_stranger_alerts_back_and_armed_does_not():
    assert away_switch_holds(armed=False) == HeldBack(by=HeldBackBy.DISARMED, detail=DISARMED_DETAIL)
    assert away_switch_holds(armed=True) is None


def test_settings_stored_before_the_switch_are_armed():
    old = json.dumps({"mail_to": ["a@example.test"], "channels": ["email"]})
    assert HouseholdSettings.model_validate_json(old, context={"stored": True}).armed is True
    assert HouseholdSettings().armed is True
    assert HouseholdSettings.model_validate({"armed": False}).armed is False


def test_the_held_back_record_names_the_switch_and_older_records_still_read():
    held = AlertOutcome(
        status=DeliveryStatus.HELD_BACK, detail=DISARMED_DETAIL, held_back_by=HeldBackBy.DISARMED
    )
    again = AlertOutcome.read(json.loads(held.model_dump_json()))
    assert again == held and again.held_back_by is HeldBackBy.DISARMED
    assert str(again) == f"suppressed: {DISARMED_DETAIL}"
    before = AlertOutcome.read({"status": "suppressed", "detail": "quiet hours", "kind": "stranger"})
    assert before is not None and before.held_back_by is None
    assert AlertOutcome.read("suppressed: stranger-1 is marked no alerts").held_back_by is None  # type: ignore[union-attr]
