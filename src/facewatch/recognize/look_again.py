"""Look again: after someone is enrolled or named, the recent faces that were strangers (or
could not be decided) are judged again against the household's known set as it is now, so
yesterday's "stranger" who is today's known cousin shows as the cousin in the history.

Each face is encoded again from its frame as "this is not X" encodes a judged face (the
full encoding, as known photos are encoded) and judged by decisions.judge_face with the
deployment's policy and the household's negatives, exactly as recognize judges. Only a face
now judged known is changed: its result is rewritten by compare-and-swap (recognize may be
rewriting the same result) to verdict "known" with the name and distance, and a
`looked_again` record `{"at", "was": {"verdict", "stranger_id", "distance"}}` keeps what the
verdict was when the frame was judged (and alerted, or not). No alert is sent, then or
later: what happened at the door has happened. A face that stays a stranger is left alone.

What is looked at: the results since `since`, newest first, at most MAX_FACES faces per
call (the result says when more were due: the oldest then keep their verdict). A result
judged against the very known set of today (its `encodings_etag`) is skipped: judging it
again would give the same verdict. Every result looked at gets today's `encodings_etag`
(changed or not), so a second run changes nothing and costs little, and a call capped at
`limit` is continued by the next one, older faces first left.

Remembered strangers: one of whose faces became known here, and every kept
representative of whom is now judged that same person, is forgotten (crops and all), as
naming them would have. Recognize would judge each of their faces known from now on, so
the memory could never match again; it would only show a stranger who is not one on the
household's pages for a month. A stranger with any representative still unknown (two
people mixed up in one stranger) is kept."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadImage, BadInput, ObjectMissing, StorageError
from facewatch.faces.encodings import encode_faces
from facewatch.faces.gallery import GALLERY_FORMAT, Gallery
from facewatch.faces.quality import sharpness
from facewatch.frames import Box
from facewatch.images import decode_bgr, to_rgb
from facewatch.layout import encodings_key, results_prefix
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.recognize.decisions import MatchPolicy, judge_face
from facewatch.recognize.known import load_gallery, rebuild_gallery
from facewatch.recognize.negatives import by_person, load_negatives, refresh_negatives
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.records import FaceState, face_state
from facewatch.store.storage import Storage, StoredObject, encode_json

log = logging.getLogger(__name__)

MAX_FACES = 2000
"""Faces judged again per call, at most (each costs a frame decode and ~50 ms of encoding):
a week of a busy street door is a few thousand faces, which a CLI run or a console request
may take; more would be minutes."""
LOOKED_AT = ("stranger", "unsure")


@dataclass(frozen=True, slots=True)
class Change:
    """One face whose verdict changed: what its result said before and says now."""

    verdict_id: str
    frame_key: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LookAgain:
    checked: int
    """Faces judged again."""
    changed: list[Change] = field(default_factory=list)
    capped: bool = False
    """More faces were due than `limit`: the newest were judged, the older ones not."""
    limit: int = MAX_FACES
    forgotten: list[str] = field(default_factory=list)
    """Remembered strangers forgotten because every face kept of them is now known."""

    @property
    def now_known(self) -> int:
        return len(self.changed)

    def line(self) -> str:
        """The one line the CLI prints."""
        capped = f" (capped at the newest {self.limit})" if self.capped else ""
        return f"looked again: {self.checked} faces, {self.now_known} now known{capped}"


def _box(raw: Any) -> Box:
    return Box(**raw) if isinstance(raw, dict) else Box(*raw)


def _due(face: Mapping[str, Any]) -> bool:
    """A face worth judging again: a stranger, or unsure for a reason other than not being
    a face at all; a face too small or blurred is let through (judge_face says so again,
    without an encoding)."""
    if face.get("verdict") not in LOOKED_AT or not face.get("box"):
        return False
    try:
        return face_state(face) is not FaceState.NOT_A_FACE
    except ValueError:
        return False  # a state this facewatch does not know: leave the face as it is


def _known_set(storage: Storage, household: str, max_pixels: int) -> tuple[Gallery, str] | None:
    """The household's known set and its ETag as recognize loads them (an older format is
    rebuilt first), or None when there is none."""
    try:
        gallery, etag = load_gallery(storage, household)
    except ObjectMissing:
        return None
    if gallery.stale:
        gallery = rebuild_gallery(storage, household, max_pixels)
        etag = storage.etag(encodings_key(household)) or ""
    return gallery, etag


def _negatives(storage: Storage, household: str, max_pixels: int) -> dict[str, np.ndarray]:
    try:
        negatives, _ = load_negatives(storage, household)
        if negatives.stale:
            negatives = refresh_negatives(storage, household, max_pixels)
    except StorageError as exc:  # as recognize: without them, judge on
        log.error("household %s: negatives unavailable: %s", household, exc)
        return {}
    return by_person(negatives)


def _result_keys(storage: Storage, household: str, since: datetime) -> list[str]:
    """Result keys of frames from `since`'s day on, newest first: one listing per camera and
    day, not of the household's whole history."""
    prefix = results_prefix(household)
    first_day = since.astimezone(UTC).strftime("%Y%m%d")
    keys: list[str] = []
    for camera in storage.list_folders(prefix):
        for day in storage.list_folders(f"{prefix}{camera}/"):
            if day >= first_day:
                keys.extend(k for k in storage.list_keys(f"{prefix}{camera}/{day}/") if k.endswith(".json"))
    return sorted(keys, key=lambda k: (k.split("/")[-2], k.split("/")[-1]), reverse=True)


def look_again(
    storage: Storage,
    household: str,
    *,
    since: datetime,
    now: datetime,
    max_pixels: int,
    policy: MatchPolicy | None = None,
    limit: int = MAX_FACES,
) -> LookAgain:
    """Judge every stranger or unsure face of the household's results since `since` again
    against today's known set; rewrite those now known (see the module docstring). No alert
    is sent. `policy`: the deployment's rule (default: MatchPolicy from this process's
    settings, as recognize uses)."""
    if policy is None:
        policy = MatchPolicy.from_settings(get_settings())
    known = _known_set(storage, household, max_pixels)
    if known is None or len(known[0]) == 0:
        return LookAgain(0, limit=limit)  # nobody known: no face can become known
    gallery, etag = known
    negatives = _negatives(storage, household, max_pixels)
    checked, capped = 0, False
    changed: list[Change] = []
    for key in _result_keys(storage, household, since):
        try:
            result = storage.get_json(key)
        except StorageError:
            continue  # gone, or unreadable: nothing to rewrite
        if not isinstance(result, dict) or "error" in result or not result.get("captured_at"):
            continue
        captured = result["captured_at"]
        if datetime.fromisoformat(str(captured)) < since or (etag and result.get("encodings_etag") == etag):
            continue
        due = [i for i, face in enumerate(result.get("faces") or []) if _due(face)]
        if not due:
            continue
        if checked + len(due) > limit:
            capped = True
            break
        checked += len(due)
        verdicts = _judge_again(storage, result, due, gallery, policy, negatives, max_pixels)
        now_known = {i: j for i, j in verdicts.items() if j["verdict"] == "known"}
        # Written even when nothing changed: the result is then marked judged against this
        # known set, so the next call (the console's next batch) goes on to older faces.
        changed.extend(_rewrite(storage, key, now_known, etag, now))
    forgotten = _forget_known_strangers(storage, household, changed, gallery, policy, negatives)
    log.info(
        "household %s: looked again at %d faces, %d now known%s",
        household,
        checked,
        len(changed),
        " (capped)" if capped else "",
    )
    return LookAgain(checked, changed, capped, limit, forgotten)


def _judge_again(
    storage: Storage,
    result: Mapping[str, Any],
    due: list[int],
    gallery: Gallery,
    policy: MatchPolicy,
    negatives: Mapping[str, np.ndarray],
    max_pixels: int,
) -> dict[int, dict[str, Any]]:
    """Face index → its new verdict (verdict, name, distance, reason)."""
    try:
        image = decode_bgr(storage.get(str(result["frame_key"])).body, max_pixels)
    except (ObjectMissing, BadImage, KeyError) as exc:
        log.info("%s: cannot look again (%s)", result.get("frame_key"), exc)
        return {}
    faces = result["faces"]
    boxes = {i: _box(faces[i]["box"]) for i in due}
    quality = {i: (min(b.w, b.h), sharpness(image, b)) for i, b in boxes.items()}
    judged = [i for i in due if quality[i][0] >= policy.min_face_px and quality[i][1] >= policy.min_sharpness]
    encodings = dict(zip(judged, encode_faces(to_rgb(image), [boxes[i] for i in judged]), strict=True))
    out = {}
    for i in due:
        judgement = judge_face(
            encodings.get(i),
            face_px=quality[i][0],
            sharpness=quality[i][1],
            gallery=gallery,
            policy=policy,
            negatives=negatives,
        )
        out[i] = {
            "verdict": judgement.verdict,
            "name": judgement.name,
            "distance": judgement.distance,
            "reason": judgement.reason,
        }
    return out


def _rewrite(
    storage: Storage, key: str, now_known: Mapping[int, Mapping[str, Any]], etag: str, now: datetime
) -> list[Change]:
    """Rewrite the faces now known of one result, by compare-and-swap on its ETag (redone
    on a conflict; a face that changed meanwhile, e.g. a new version of the frame judged
    again, is left to that verdict)."""

    def change(obj: StoredObject | None) -> tuple[bytes | None, list[Change]]:
        if obj is None:
            return None, []
        try:
            result = json.loads(obj.body)
            faces = result["faces"]
        except (ValueError, KeyError, TypeError):
            return None, []
        changes = []
        for i, new in now_known.items():
            if i >= len(faces) or not _due(faces[i]):
                continue
            face = faces[i]
            before = dict(face)
            face.update(
                verdict="known",
                name=new["name"],
                distance=new["distance"],
                reason=f"looked again: {new['reason']}",
                state=FaceState.JUDGED.value,
                stranger_id=None,
                looked_again={
                    "at": now.isoformat(),
                    "was": {
                        "verdict": before.get("verdict"),
                        "stranger_id": before.get("stranger_id"),
                        "distance": before.get("distance"),
                    },
                },
            )
            verdict_id = str(face.get("verdict_id") or f"{result.get('frame_key')}#{i}")
            changes.append(Change(verdict_id, str(result.get("frame_key")), before, dict(face)))
        if not changes and (not etag or result.get("encodings_etag") == etag):
            return None, []
        result["encodings_etag"] = etag  # every due face was judged against this set
        written[:] = [result]
        return encode_json(result), changes

    written: list[dict[str, Any]] = []
    changes = storage.swap(key, change, content_type="application/json")
    if changes:  # the console's summary shows the faces as now known
        DayIndexStore(storage).record(key.split("/")[1], written)
    return changes


def _forget_known_strangers(
    storage: Storage,
    household: str,
    changed: list[Change],
    gallery: Gallery,
    policy: MatchPolicy,
    negatives: Mapping[str, np.ndarray],
) -> list[str]:
    """Forget the remembered strangers whose faces became known here and whose every
    representative is now judged that same person (module docstring)."""
    named: dict[str, set[str]] = {}
    for change in changed:
        sid = change.before.get("stranger_id")
        if sid:
            named.setdefault(str(sid), set()).add(str(change.after.get("name")))
    if not named:
        return []
    store = StrangerStore(storage)
    book = store.load(household)[0]
    forgotten = []
    for sid, names in sorted(named.items()):
        stranger = book.get(sid)
        if stranger is None or len(names) != 1 or not stranger.representatives:
            continue
        (name,) = names
        if all(
            rep.format == GALLERY_FORMAT
            and judge_face(
                np.asarray(rep.encoding, dtype=np.float64),
                face_px=policy.min_face_px,  # each passed the quality gate when it was kept
                sharpness=policy.min_sharpness,
                gallery=gallery,
                policy=policy,
                negatives=negatives,
            ).name
            == name
            for rep in stranger.representatives
        ):
            try:
                store.forget(household, sid)
            except BadInput:
                continue  # forgotten meanwhile
            forgotten.append(sid)
    return forgotten


RECENT = timedelta(days=7)
PER_REQUEST = 30
"""Faces one web request judges again (each is a frame decode and a full encoding, about a
third of a second): a page must answer within a browser's patience and a function's
timeout. The console's "Look again" goes on from there, older faces next."""


def after_learning(storage: Storage, household: str, settings: Settings) -> LookAgain:
    """What the console and the "I know this person" page run once someone is newly known:
    the past week, newest first, as much as one request affords."""
    now = datetime.now(UTC)
    return look_again(
        storage,
        household,
        since=now - RECENT,
        now=now,
        max_pixels=settings.max_image_pixels,
        policy=MatchPolicy.from_settings(settings),
        limit=PER_REQUEST,
    )
