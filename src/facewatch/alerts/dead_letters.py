"""Alerts that could not be delivered are kept in the bucket (`alerts/dead/`, by
delivery.keep_dead_letter), never lost, and `facewatch alerts retry` sends them again
through the same once-only delivery."""

from __future__ import annotations

import json
import logging

from facewatch.alerts.delivery import deliver
from facewatch.alerts.mail_transport import MailTransport
from facewatch.alerts.retries import RetryPolicy
from facewatch.config import Settings
from facewatch.exceptions import (
    StorageError,
)
from facewatch.layout import dead_alerts_prefix
from facewatch.records import Alert, ChannelOutcome, Delivery, DeliveryStatus
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


def retry_dead_letters(
    *, storage: Storage, mail: MailTransport, settings: Settings, household: str | None = None
) -> dict[str, Delivery]:
    """Send every dead-lettered alert again (`facewatch alerts retry`). A letter is removed
    only after its alert was sent; one that fails again is rewritten with the new error,
    and one that cannot even be tried is reported as still failing, the others go on."""

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


def _still_failing(why: str) -> Delivery:
    return Delivery(channels=[ChannelOutcome(channel=None, status=DeliveryStatus.DEAD_LETTERED, detail=why)])
