"""What each console form changes, through the same use cases the CLI and the feedback link
run (recognize/people, naming, negatives, stranger_store, look_again); each returns the
line the next page shows. After anyone new is known, the last 7 days are looked at again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import get_args

from pydantic import ValidationError

from facewatch.config import Settings
from facewatch.exceptions import BadInput, FacewatchError
from facewatch.household.settings import (
    ChannelName,
    HouseholdSettings,
    change_household_settings,
    rename_in_rules,
)
from facewatch.layout import FrameKey, check_id, check_person, known_prefix
from facewatch.outbound import check_household_urls, policy_from_settings
from facewatch.store.storage import Storage
from facewatch.tokens import face_path, visit_path
from facewatch.web.console.request import Upload

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Done:
    note: str
    """What the next page says happened."""
    to: str
    """Where the browser goes next (a console path)."""


@dataclass(frozen=True, slots=True)
class Context:
    storage: Storage
    settings: Settings
    household: str

    @property
    def max_pixels(self) -> int:
        return self.settings.max_image_pixels


def _look_again(ctx: Context) -> str:
    from facewatch.recognize.look_again import RECENT, after_learning

    found = after_learning(ctx.storage, ctx.household, ctx.settings)
    days = RECENT.days
    said = f"Looked again at {found.checked} face(s) of the last {days} days: {len(found.changed)} now known."
    return f"{said} More are due: press Look again on the Faces page." if found.capped else said


def look_again(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    return Done(_look_again(ctx), "/faces")


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise BadInput(f"the form has no {name}")
    return value


def _own_verdict(ctx: Context, verdict_id: str) -> str:
    from facewatch.web.transport import Forbidden

    if FrameKey.from_verdict_id(verdict_id)[0].household != ctx.household:
        raise Forbidden("that face belongs to another household")
    return verdict_id.strip()


def _stranger_id(form: Mapping[str, str], name: str = "stranger_id") -> str:
    return check_id(_field(form, name), "stranger id")


# --- faces ------------------------------------------------------------------------------


def not_this_person(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.negatives import not_this_person as correct

    verdict_id = _own_verdict(ctx, _field(form, "verdict_id"))
    fixed = correct(ctx.storage, verdict_id, check_person(_field(form, "name")), ctx.max_pixels)
    return Done(
        f"Noted: that face is not {fixed.name} ({fixed.negatives_for_name} correction(s) for {fixed.name}).",
        face_path(verdict_id),
    )


def this_is(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.naming import name_face
    from facewatch.recognize.photo_gates import GateLimits

    verdict_id = _own_verdict(ctx, _field(form, "verdict_id"))
    name = check_person(_field(form, "name"))
    naming = name_face(
        ctx.storage, ctx.household, verdict_id, name, ctx.max_pixels, GateLimits.from_settings(ctx.settings)
    )
    warned = "".join(f" Warning: {w.text}." for w in naming.warnings)
    return Done(f"{name} is now known.{warned} {_look_again(ctx)}", face_path(verdict_id))


def visit_this_is(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    """ "This is X" from a visit's card: as for the face, then back to the visit."""
    done = this_is(ctx, form, uploads)
    return Done(done.note, visit_path(form["verdict_id"].strip()))


def visit_not(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    done = not_this_person(ctx, form, uploads)
    return Done(done.note, visit_path(form["verdict_id"].strip()))


def answer_question(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    """Yes or no to "Is this X?" (recognize/question_answers.py), from the face's page or its
    visit's (`back=visit`); a yes makes someone's photos grow, so the week is looked at again."""
    from facewatch.recognize.question_answers import answer_question as answer
    from facewatch.recognize.questions import Answer

    verdict_id = _own_verdict(ctx, _field(form, "verdict_id"))
    try:
        said = Answer(form.get("answer", ""))
    except ValueError:
        raise BadInput("answer: choose yes or no") from None
    done = answer(ctx.storage, ctx.settings, ctx.household, _field(form, "question_id"), verdict_id, said)
    note = f"{done.said} {_look_again(ctx)}" if said is Answer.YES else done.said
    return Done(note, visit_path(verdict_id) if form.get("back") == "visit" else face_path(verdict_id))


# --- strangers ---------------------------------------------------------------------------


def name_stranger(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.naming import name_stranger as name

    stranger_id = _stranger_id(form)
    naming = name(ctx.storage, ctx.household, stranger_id, check_person(_field(form, "name")), ctx.max_pixels)
    return Done(
        f"{stranger_id} is now {naming.name}, learned from {naming.learned} photo(s). {_look_again(ctx)}",
        "/strangers",
    )


def merge_strangers(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.stranger_store import StrangerStore

    keep, other = _stranger_id(form), _stranger_id(form, "other_id")
    if keep == other:
        raise BadInput("choose two different strangers to merge")
    merged = StrangerStore(ctx.storage).merge(ctx.household, keep, other)
    # "No alerts" for either of them holds for the one person they turned out to be.
    rename_in_rules(ctx.storage, ctx.household, other, keep)
    return Done(f"{other} merged into {keep}: {merged.visits} visit(s).", f"/stranger?id={keep}")


def split_face(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.stranger_store import StrangerStore

    stranger_id = _stranger_id(form)
    verdict_id = _own_verdict(ctx, _field(form, "verdict_id"))
    new = StrangerStore(ctx.storage).split(ctx.household, stranger_id, verdict_id, max_pixels=ctx.max_pixels)
    return Done(
        f"That face is now {new.stranger_id}, apart from {stranger_id}.", f"/stranger?id={stranger_id}"
    )


def silence_stranger(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    stranger_id = _stranger_id(form)
    on = form.get("silence", "") == "on"

    def change(own: HouseholdSettings) -> HouseholdSettings:
        kept = [s for s in own.no_alerts if s != stranger_id]
        return own.model_copy(update={"no_alerts": [*kept, stranger_id] if on else kept})

    change_household_settings(ctx.storage, ctx.household, change)
    said = "raises no alerts from now on" if on else "alerts again"
    return Done(f"{stranger_id} {said}.", f"/stranger?id={stranger_id}")


def forget_stranger(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.stranger_store import StrangerStore

    gone = StrangerStore(ctx.storage).forget(ctx.household, _stranger_id(form))
    return Done(f"{gone.stranger_id} is forgotten, with their face crops.", "/strangers")


# --- people ------------------------------------------------------------------------------


def add_photos(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.people import add_photos as add
    from facewatch.recognize.photo_gates import GateLimits
    from facewatch.web.transport import TooLarge

    name = check_person(_field(form, "name"))
    photos = [(u.filename, u.data) for u in uploads if u.field == "photos"]
    if not photos:
        raise BadInput("choose at least one photo to upload")
    limit = ctx.settings.max_upload_bytes
    for filename, data in photos:
        if len(data) > limit:
            raise TooLarge(f"{filename}: the photo is over the limit of {limit // (1024 * 1024)} MB")
    added = add(
        ctx.storage,
        ctx.household,
        name,
        photos,
        ctx.max_pixels,
        ctx.settings.max_upload_bytes,
        GateLimits.from_settings(ctx.settings),
    )
    warned = "".join(f" Warning: {line}." for line in added.warning_lines())
    return Done(f"{len(photos)} photo(s) of {name} added.{warned} {_look_again(ctx)}", "/people")


def remove_photo(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.people import remove_photo as remove
    from facewatch.web.transport import Forbidden

    key = _field(form, "photo_key")
    if not key.startswith(known_prefix(ctx.household)):
        raise Forbidden("that photo belongs to another household")
    remove(ctx.storage, ctx.household, key, ctx.max_pixels)
    return Done("Photo removed.", "/people")


def rename_person(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.people import rename_person as rename

    old, new = check_person(_field(form, "name")), check_person(_field(form, "new_name"))
    rename(ctx.storage, ctx.household, old, new, ctx.max_pixels)
    return Done(f"{old} is now {new}.", "/people")


def remove_person(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    from facewatch.recognize.people import remove_person as remove

    name = check_person(_field(form, "name"))
    remove(ctx.storage, ctx.household, name, ctx.max_pixels)
    return Done(f"{name} is no longer known.", "/people")


# --- settings ----------------------------------------------------------------------------


def _seconds(form: Mapping[str, str], name: str, scale: float) -> float | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw) * scale
    except ValueError:
        raise BadInput(f"{name}: {raw!r} is not a number") from None


def _days(form: Mapping[str, str], name: str, unchanged: int) -> int:
    raw = form.get(name, "").strip()
    if not raw:
        return unchanged
    try:
        return int(raw)
    except ValueError:
        raise BadInput(f"{name}: {raw!r} is not a whole number of days") from None


def save_settings(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    """The settings form: what it leaves empty falls back to the deployment's values."""
    recipients = [a.strip() for a in form.get("mail_to", "").replace(";", ",").split(",") if a.strip()]
    channels = [c for c in get_args(ChannelName) if form.get(f"channel_{c}") == "on"]
    if not channels:
        raise BadInput("choose at least one channel")

    webhook_url = form.get("webhook_url", "").strip() or None

    def change(own: HouseholdSettings) -> HouseholdSettings:
        if webhook_url is not None and webhook_url != own.webhook_url:  # older ones stay readable
            check_household_urls(
                webhook_url, None, policy_from_settings(ctx.settings), deployment_mqtt_url=None
            )
        update = {
            "mail_to": recipients or None,
            "timezone": form.get("timezone", "").strip() or None,
            "channels": channels,
            "webhook_url": webhook_url,
            "visit_window_seconds": _seconds(form, "visit_window_minutes", 60),
            "alert_cooldown_seconds": _seconds(form, "cooldown_minutes", 60),
            "presence": form.get("presence") == "on",
            "retention_days": _days(form, "retention_days", own.retention_days),
        }
        away = _seconds(form, "presence_away_minutes", 1)
        if away is not None:
            update["presence_away_after_minutes"] = round(away)
        try:
            return HouseholdSettings.model_validate({**own.model_dump(mode="json"), **update})
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(map(str, problem["loc"]))
            raise BadInput(f"{where}: {problem['msg']}") from None

    change_household_settings(ctx.storage, ctx.household, change)
    return Done("Settings saved.", "/settings")


def set_armed(ctx: Context, form: Mapping[str, str], uploads: Sequence[Upload]) -> Done:
    """The away switch: `armed` is "on" or "off", anything else is refused. The new state
    goes to Home Assistant where the household has a broker; one that is down does not
    undo the change (the bridge publishes it again when it reconnects)."""
    from facewatch.alerts.mqtt_bridge import publish_armed_state

    wanted = {"on": True, "off": False}.get(form.get("armed", ""))
    if wanted is None:
        raise BadInput("armed: choose on or off")
    written = change_household_settings(
        ctx.storage, ctx.household, lambda own: own.model_copy(update={"armed": wanted})
    )
    note = "Armed: strangers alert." if wanted else "Disarmed: stranger alerts are held back."
    try:
        publish_armed_state(ctx.settings, ctx.household, written)
    except FacewatchError as exc:
        log.warning("household %s: away switch state not published: %s", ctx.household, exc)
        note += " Home Assistant was not told (its broker did not answer)."
    return Done(note, "/settings")


UPLOADS = frozenset({"/people/add"})
"""The one form that takes photos; every other takes a few small fields, and no files."""

ACTIONS: dict[str, Callable[[Context, Mapping[str, str], Sequence[Upload]], Done]] = {
    "/faces/look-again": look_again,
    "/faces/not": not_this_person,
    "/faces/is": this_is,
    "/visits/is": visit_this_is,
    "/visits/not": visit_not,
    "/questions/answer": answer_question,
    "/strangers/name": name_stranger,
    "/strangers/merge": merge_strangers,
    "/strangers/split": split_face,
    "/strangers/silence": silence_stranger,
    "/strangers/forget": forget_stranger,
    "/people/add": add_photos,
    "/people/remove-photo": remove_photo,
    "/people/rename": rename_person,
    "/people/remove": remove_person,
    "/settings": save_settings,
    "/settings/armed": set_armed,
}
