"""Alerts that could not be delivered are kept in the bucket (`alerts/dead/`, by
delivery.keep_dead_letter), never lost, and `facewatch alerts retry` sends them again
through the same once-only delivery."""

from __future__ import annotations

import json
import logging

from facewatch.alerts.alert_scope import check_alert_scope
from facewatch.alerts.delivery import deliver
from facewatch.alerts.mail_transport import MailTransport
from facewatch.alerts.retries import RetryPolicy
from facewatch.config import Settings
from facewatch.exceptions import BadInput, StorageError
from facewatch.layout import dead_alerts_prefix
from facewatch.records import Alert, ChannelOutcome, Delivery, DeliveryStatus
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


def retry_dead_letters(
    *, storage: Storage, mail: MailTransport, settings: Settings, household: str | None = None
) -> dict[str, Delivery]:
    """Send every dead-lettered alert again (`facewatch alerts retry`). A letter is removed
    only after its alert was sent; one that fails again is rewritten with the new error,
    and one that cannot even be tried (unreadable, or an alert outside the household whose
    folder holds it: `_check_letter`) is kept and reported as still failing, the others go
    on."""

    households = [household] if household else storage.list_households()
    outcomes: dict[str, Delivery] = {}
    for name in households:
        try:
            keys = list(storage.list_keys(dead_alerts_prefix(name)))
        except StorageError as exc:
            outcomes[f"{name}/*"] = _still_failing(f"could not list: {exc}")
            continue
        for key in keys:
            letter = key.rsplit("/", 1)[-1].removesuffix(".json")
            try:
                alert = Alert.parse(json.dumps(storage.get_json(key)["alert"]))
                letter = alert.alert_id
                _check_letter(alert, name, storage.bucket)
                outcome = deliver(
                    alert, storage=storage, mail=mail, settings=settings, retry=RetryPolicy(attempts=1)
                )
                if outcome.status is not DeliveryStatus.DEAD_LETTERED:
                    storage.delete(key)
            except Exception as exc:  # whatever one letter's trouble, the others go on
                log.error("dead letter %s not retried: %s: %s", key, type(exc).__name__, exc)
                outcome = _still_failing(f"not retried: {type(exc).__name__}: {exc}")
            outcomes[letter] = outcome
    return outcomes


def _check_letter(alert: Alert, household: str, bucket: str) -> None:
    """A letter is sent only as notify would have taken its alert (alert_scope) and only
    for the household whose folder holds it: anyone who can write one folder of the bucket
    must not have another household's frame sent to their channels."""
    check_alert_scope(alert, bucket)
    if alert.household != household:
        raise BadInput(
            f"dead letter of household {household} holds an alert of {alert.household[:80]!r}: not sent"
        )


def _still_failing(why: str) -> Delivery:
    return Delivery(channels=[ChannelOutcome(channel=None, status=DeliveryStatus.DEAD_LETTERED, detail=why)])
