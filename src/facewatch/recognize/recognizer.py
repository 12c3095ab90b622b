"""recognize's core: one storage event in, one recorded outcome out.

A frame event: load the frame and its edge metadata, confirm and encode the faces, judge
each against the household's known set, alert on strangers, write the result next to the
frame. A known-photo event: rebuild that household's encodings. All I/O is passed in."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from facewatch.alerts.handover import Notifier
from facewatch.config import Settings
from facewatch.exceptions import BadEvent, BadImage, BadInput, BadKey, StorageError
from facewatch.faces.crops import crop_face
from facewatch.faces.gallery import Gallery
from facewatch.faces.quality import sharpness
from facewatch.frames import Box, FrameMeta
from facewatch.household.rules import away_switch_holds
from facewatch.household.settings import HouseholdSettings, load_household_settings
from facewatch.images import decode_bgr
from facewatch.layout import FrameKey, KnownPhotoKey, classify_key, negatives_key
from facewatch.recognize.arrivals import ArrivalStore
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.recognize.decisions import Judgement, MatchPolicy, person_distances
from facewatch.recognize.known import GalleryCache, load_gallery, rebuild_gallery
from facewatch.recognize.negatives import by_person, refresh_negatives
from facewatch.recognize.question_store import QuestionStore
from facewatch.recognize.questions import near_misses
from facewatch.recognize.recognition import find_faces, judge_faces
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import NewSighting, Recall, StrangerSighting
from facewatch.recognize.track_evidence import (
    Answer,
    Judge,
    TrackFace,
    beside_track,
    judge_running,
    quality_weight,
)
from facewatch.recognize.triggers import StorageEvent
from facewatch.recognize.visit_store import VisitStore
from facewatch.recognize.visits import Assignment, Sighting, VisitPolicy, Vote, track_key
from facewatch.records import (
    Alert,
    AlertOutcome,
    DeliveryStatus,
    FaceState,
    FaceVerdict,
    FrameResult,
    HeldBack,
    Question,
)
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

Action = Literal["judged", "duplicate", "bad-frame", "gallery-rebuilt", "gallery-current", "ignored"]

BOOK_KEEP_BYTES = 32_000_000
"""How much of its households' state books (visits, strangers, arrivals: their JSON size)
each of recognize's stores keeps between frames, so the next change of a book this process
wrote last needs no read (json_state.py). A full stranger book is 4.4 MB; most are a few KB."""


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    action: Action
    result: FrameResult | None = None
    detail: str = ""
    judging_seconds: float | None = None
    """How long encoding and judging the frame's faces took (the operator's metrics)."""

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "action": self.action}
        if self.detail:
            out["detail"] = self.detail
        if self.result is not None:
            out["faces"] = [f.verdict for f in self.result.faces]
            out["alert"] = str(self.result.alert) if self.result.alert else None
        return out


def _held_back(why: HeldBack) -> AlertOutcome:
    return AlertOutcome(status=DeliveryStatus.HELD_BACK, detail=why.detail, held_back_by=why.by)


def alert_id_for(event: StorageEvent, face_index: int) -> str:
    """The same face of the same upload always yields the same alert id, however often the
    upload is delivered: notify uses it to send each alert once."""
    return hashlib.sha256(f"{event.idempotency_key}#{face_index}".encode()).hexdigest()[:20]


def _meta_for(key: FrameKey, metadata: dict[str, str], image: np.ndarray) -> FrameMeta:
    try:
        meta = FrameMeta.from_s3_metadata(metadata)
        if meta.household == key.household and meta.camera == key.camera:
            return meta
        log.warning("%s: metadata names another household/camera; ignoring it", key)
    except BadInput:
        pass  # uploaded by something other than facewatch: judge it without edge boxes
    try:
        stamp = datetime.strptime(f"{key.day}{key.name[:12]}", "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)
    except ValueError as exc:
        raise BadKey(f"{key}: neither metadata nor name says when it was taken ({exc})") from exc
    height, width = image.shape[:2]
    return FrameMeta(key.household, key.camera, stamp, width, height, source="unknown")


def _track_votes(result: FrameResult) -> list[Vote]:
    """The frame's judged faces that belong to edge tracks, as votes on who each track is."""
    return [
        Vote(
            track_key(result.camera, face.track_id),
            f"{result.frame_key}#{i}",
            result.captured_at,
            face.name if face.verdict == "known" else None,
            face.distance,
        )
        for i, face in enumerate(result.faces)
        if face.track_id is not None and face.verdict in ("known", "stranger")
    ]


def _track_faces(result: FrameResult, encodings: dict[int, np.ndarray]) -> list[TrackFace]:
    """The frame's votes that were encoded, for their tracks' running encodings, each
    weighed by its quality (track_evidence.quality_weight)."""
    return [
        TrackFace(
            track_key(result.camera, face.track_id),
            f"{result.frame_key}#{i}",
            result.captured_at,
            encodings[i],
            quality_weight(min(face.box.w, face.box.h), face.sharpness, face.yaw_degrees),
        )
        for i, face in enumerate(result.faces)
        if face.track_id is not None and face.verdict in ("known", "stranger") and i in encodings
    ]


def _named_beside_tracks(result: FrameResult, answers: dict[str, Answer]) -> list[FaceVerdict]:
    """Each named face beside what its track's evidence said (track_evidence.beside_track):
    one named alone while its track is someone else, or nobody, is left unsure."""
    faces = list(result.faces)
    for i, face in enumerate(faces):
        answer = answers.get(f"{result.frame_key}#{i}")
        if face.verdict != "known" or answer is None:
            continue
        own = Judgement(face.verdict, face.name, face.distance, face.reason, nearest=face.nearest)
        after = beside_track(own, answer)
        if after is not own:
            update = {"verdict": after.verdict, "name": after.name, "reason": after.reason}
            faces[i] = face.model_copy(update=update)
    return faces


@dataclass
class Recognizer:
    storage: Storage
    settings: Settings
    galleries: GalleryCache
    """The households' known sets, cached and ETag-checked."""
    negatives: GalleryCache
    """"This is not X" faces per household, cached and ETag-checked like the known set."""
    notifier: Notifier
    visits: VisitStore
    strangers: StrangerStore
    arrivals: ArrivalStore
    index: DayIndexStore | None = None
    """The console's summaries, kept as results are written (None: built on the storage)."""
    questions: QuestionStore | None = None
    """Near-misses become questions "Is this X?" (None: none are asked)."""
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _rules: dict[str, tuple[float, HouseholdSettings]] = field(default_factory=dict, repr=False)
    _rebuilding: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _rebuilding_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(
        cls,
        storage: Storage,
        settings: Settings,
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> Recognizer:
        """A recognizer with its stores, as a function instance keeps them while warm: the
        one place they are built. `clock`: when the caches last checked the bucket."""
        check = settings.encodings_check_seconds
        return cls(
            storage=storage,
            settings=settings,
            galleries=GalleryCache(storage, check, clock, max_pixels=settings.max_image_pixels),
            negatives=GalleryCache(
                storage,
                check,
                clock,
                key_for=negatives_key,
                missing_is_empty=True,
                max_pixels=settings.max_image_pixels,
                rebuild=refresh_negatives,
            ),
            notifier=notifier,
            visits=VisitStore(storage, keep_bytes=BOOK_KEEP_BYTES),
            strangers=StrangerStore(storage, keep_bytes=BOOK_KEEP_BYTES),
            arrivals=ArrivalStore(storage, keep_bytes=BOOK_KEEP_BYTES),
            index=DayIndexStore(storage),
            questions=QuestionStore(storage),
        )

    @property
    def policy(self) -> MatchPolicy:
        return MatchPolicy.from_settings(self.settings)

    @property
    def stranger_policy(self) -> MatchPolicy:
        """The known-person rule with the stricter same-person threshold: merging two
        strangers into one would hide one of them."""
        return replace(
            MatchPolicy.from_settings(self.settings), threshold=self.settings.same_person_threshold
        )

    def visit_policy(self, rules: HouseholdSettings | None = None) -> VisitPolicy:
        """The deployment's visit window and cooldown, or the household's own."""
        s = self.settings
        own = rules or HouseholdSettings()
        window = own.visit_window_seconds or s.visit_window_seconds
        cooldown = own.alert_cooldown_seconds
        return VisitPolicy(
            window=timedelta(seconds=window),
            cooldown=timedelta(seconds=s.alert_cooldown_seconds if cooldown is None else cooldown),
            same_person=s.same_person_threshold,
        )

    def handle(self, event: StorageEvent) -> Outcome:
        if event.bucket != self.storage.bucket:
            raise BadEvent(
                f"event for bucket {event.bucket!r}, but this deployment serves {self.storage.bucket!r}"
            )
        try:
            target = classify_key(event.key)
        except BadInput as exc:
            log.info("ignoring %s: %s", event.key, exc)
            return Outcome(event.key, "ignored", detail=str(exc))
        if isinstance(target, KnownPhotoKey):
            return self._relearn(event, target)
        if event.kind != "created":
            return Outcome(event.key, "ignored", detail="frame removed")
        return self._judge(event, target)

    # --- known photos ----------------------------------------------------------------
    def _relearn(self, event: StorageEvent, photo: KnownPhotoKey) -> Outcome:
        """Rebuild the household's encodings, unless the stored ones already say what this
        event would change: `facewatch enroll` rebuilds after uploading its photos, and each
        photo's event comes after. One rebuild of a household at a time in this process, so
        of several photos' events the later ones find their photo encoded by the first."""
        with self._rebuild_lock(photo.household):
            current = self._encoded_already(event, photo)
            if current is not None:
                self.galleries.forget(photo.household)
                return Outcome(event.key, "gallery-current", detail=current)
            gallery = rebuild_gallery(self.storage, photo.household, self.settings.max_image_pixels)
            self.galleries.forget(photo.household)
        return Outcome(
            event.key, "gallery-rebuilt", detail=f"{len(gallery)} photos, {len(gallery.people)} people"
        )

    def _rebuild_lock(self, household: str) -> threading.Lock:
        with self._rebuilding_lock:
            return self._rebuilding.setdefault(household, threading.Lock())

    def _encoded_already(self, event: StorageEvent, photo: KnownPhotoKey) -> str | None:
        """Why the stored encodings need no rebuild for this event, or None: they hold this
        very upload of the photo (its ETag), or, for a removal, do not hold the photo."""
        try:
            gallery, _ = load_gallery(self.storage, photo.household)
        except StorageError:
            return None  # missing or unreadable: rebuild
        if gallery.stale:
            return None
        held = dict(zip(gallery.photo_keys, gallery.photo_etags, strict=True))
        if event.kind == "created":
            if event.etag is not None and held.get(event.key) == event.etag.strip('"'):
                return f"{event.key} already encoded"
            return None
        return None if event.key in held else f"{event.key} already left out"

    # --- frames ------------------------------------------------------------------------
    def _judge(self, event: StorageEvent, key: FrameKey) -> Outcome:
        if self._already_judged(key, event.etag):
            log.info("%s already judged; duplicate delivery ignored", event.key)
            self._index_again(key)
            return Outcome(event.key, "duplicate")
        obj = self.storage.get(event.key)
        try:
            image = decode_bgr(obj.body, self.settings.max_image_pixels)
            meta = _meta_for(key, obj.metadata, image)
        except (BadImage, BadKey) as exc:
            # Recorded, so the frame is not retried for ever and its owner can see why.
            log.error("%s: cannot judge: %s", event.key, exc)
            self.storage.put_json(
                key.result_key,
                {"frame_key": event.key, "frame_etag": obj.etag, "error": str(exc), "at": self.now()},
            )
            return Outcome(event.key, "bad-frame", detail=str(exc))
        faces, boxes_from = find_faces(image, meta, self.settings)
        processed_at = self.now()
        gallery, etag, why_not = self._gallery(key.household)
        negatives = self._negatives(key.household)
        started = time.perf_counter()
        faces, encodings = judge_faces(image, faces, gallery, self.policy, why_not, negatives=negatives)
        judging_seconds = time.perf_counter() - started
        judged = FrameResult(
            household=key.household,
            camera=key.camera,
            frame_key=event.key,
            captured_at=meta.captured_at,
            processed_at=processed_at,
            boxes_from=boxes_from,
            faces=[
                f.model_copy(
                    update={"verdict_id": key.verdict_id(i), "sharpness": round(sharpness(image, f.box), 1)}
                )
                for i, f in enumerate(faces)
            ],
            encodings_etag=etag,
            frame_etag=obj.etag,
        )
        asked = self._ask(judged, encodings, gallery, negatives)
        judge = judge_running(gallery, self.policy, negatives) if gallery is not None else None
        faces, alert = self._follow_up(event, judged, encodings, image, gallery, why_not, judge, asked)
        result = judged.model_copy(update={"faces": faces, "alert": alert})
        stored = result.model_dump(mode="json")
        self.storage.put_json(key.result_key, stored)
        # After the result: the summary is derived from it, and a failed summary write
        # is marked behind (reindex repairs it) without failing the frame.
        (self.index or DayIndexStore(self.storage)).record(key.household, [stored])
        log.info(
            "%s: %s; alert: %s",
            event.key,
            ", ".join(f.verdict for f in result.faces) or "no face",
            result.alert,
        )
        return Outcome(event.key, "judged", result, judging_seconds=judging_seconds)

    def _follow_up(
        self,
        event: StorageEvent,
        judged: FrameResult,
        encodings: dict[int, np.ndarray],
        image: np.ndarray,
        gallery: Gallery | None,
        why_not: str,
        judge: Judge | None,
        asked: dict[int, Question] | None = None,
    ) -> tuple[list[FaceVerdict], AlertOutcome | None]:
        """What the judged faces lead to: tracks' evidence recorded (known people's too, so
        their bad frames later are not strangers) and strangers placed in visits, in one
        change of the visit book; named faces set beside their tracks' evidence; arrival
        notices; stranger alerts, or an operator alert. Returns the faces with what
        happened to each, and the frame's alert. `asked`: per face, the question
        "Is this X?" it counts for (an alert about it asks it)."""
        votes = _track_votes(judged)
        rules = self._household_rules(judged.household)
        indices = [i for i, f in enumerate(judged.faces) if f.verdict == "stranger"]
        sightings = [self._sighting(event, judged, i, encodings[i], gallery) for i in indices]
        assignments: list[Assignment] = []
        if votes or sightings:
            assignments, answers = self.visits.record_frame(
                judged.household,
                sightings,
                now=judged.captured_at,
                policy=self.visit_policy(rules),
                votes=votes,
                # A visit held back by the switch is placed before the stranger book's claim,
                # so it does not count as the stranger's alert once armed again.
                away=away_switch_holds(armed=rules.armed),
                faces=_track_faces(judged, encodings),
                judge=judge,
            )
            judged = judged.model_copy(update={"faces": _named_beside_tracks(judged, answers)})
        faces = judged.faces
        if rules.arrivals and any(f.verdict == "known" for f in faces):
            faces = self._announce_arrivals(event, judged, rules)
        if sightings:
            return self._alert_visits(
                judged, faces, indices, sightings, assignments, encodings, image, rules, asked or {}
            )
        if gallery is None and any(f.state is FaceState.CANNOT_DECIDE for f in faces):
            return faces, self._alert_operator(judged, why_not)
        return faces, None

    def _sighting(
        self, event: StorageEvent, result: FrameResult, i: int, encoding: np.ndarray, gallery: Gallery | None
    ) -> tuple[Sighting, str, str]:
        """Face i, a stranger, as a sighting to place (with its new visit's id and alert id)."""
        face = result.faces[i]
        sighting = Sighting(
            result.frame_key,
            result.camera,
            result.captured_at,
            encoding,
            face.track_id,
            person_distances(encoding, gallery) if gallery is not None else {},
            face_index=i,
        )
        return sighting, f"visit-{alert_id_for(event, i)[:12]}", alert_id_for(event, i)

    def _index_again(self, key: FrameKey) -> None:
        """A redelivered frame's result, indexed again: if the process that wrote it died
        before its summary was written, the retry fills the gap (nothing is written when
        the summary already has it)."""
        try:
            stored = self.storage.get_json(key.result_key)
        except StorageError:
            return
        if isinstance(stored, dict):
            (self.index or DayIndexStore(self.storage)).record(key.household, [stored])

    def _already_judged(self, key: FrameKey, etag: str | None) -> bool:
        """Idempotency on the object and its version: the same upload delivered again is a
        duplicate; a new version under the same key (its ETag differs) is judged again."""
        if not self.storage.exists(key.result_key):
            return False
        if etag is None:
            return True  # the trigger does not say which version: the stored one was judged
        try:
            judged = self.storage.get_json(key.result_key).get("frame_etag")
        except StorageError:
            return False  # an unreadable result: judge again and overwrite it
        return judged is None or judged == etag

    def _gallery(self, household: str) -> tuple[Gallery | None, str | None, str]:
        try:
            gallery, etag = self.galleries.get(household)
            return gallery, etag, ""
        except StorageError as exc:
            log.error("household %s: known encodings unavailable: %s", household, exc)
            return None, None, str(exc)

    def _negatives(self, household: str) -> dict[str, np.ndarray]:
        try:
            return by_person(self.negatives.get(household)[0])
        except StorageError as exc:
            # Without them a corrected face may be named X again; that is what happened
            # before the correction, so judge on rather than stop.
            log.error("household %s: negatives unavailable: %s", household, exc)
            return {}

    def _alert_visits(
        self,
        result: FrameResult,
        faces: list[FaceVerdict],
        indices: list[int],
        sightings: list[tuple[Sighting, str, str]],
        assignments: list[Assignment],
        encodings: dict[int, np.ndarray],
        image: np.ndarray,
        rules: HouseholdSettings,
        asked: dict[int, Question],
    ) -> tuple[list[FaceVerdict], AlertOutcome]:
        """Alert the new visits among the stranger faces at `indices`, as the visit book
        placed them (`assignments`; a stranger face on a known person's edge track is that
        person and was not placed). An AlertError propagates: no result is written, the
        event fails and is delivered again, the replayed sightings alert again with the same
        ids, and notify, which remembers what it sent, sends each alert once. `faces`: the
        frame's faces as they stand (arrivals announced)."""
        faces = list(faces)
        visit_ids = [(i, a.visit.visit_id) for i, a in zip(indices, assignments, strict=True) if a.visit]
        recalls = iter(self._remember(result, visit_ids, encodings, image))
        outcomes = []
        for i, (_, _, alert_id), assignment in zip(indices, sightings, assignments, strict=True):
            visit = assignment.visit
            if visit is None:
                assert assignment.held_back is not None
                faces[i] = faces[i].model_copy(update={"alert": _held_back(assignment.held_back)})
                outcomes.append(_held_back(assignment.held_back))
                continue
            recall = next(recalls)
            face = faces[i].model_copy(
                update={"visit_id": visit.visit_id, "stranger_id": recall.stranger.stranger_id}
            )
            held_back: AlertOutcome | None = None
            if assignment.alert and (rules.no_alerts or rules.stranger_alert_hours):
                why = self.strangers.claim_alert(
                    result.household,
                    recall.stranger.stranger_id,
                    visit.visit_id,
                    now=result.captured_at,
                    once_per=timedelta(hours=rules.stranger_alert_hours)
                    if rules.stranger_alert_hours
                    else None,
                    no_alerts=rules.no_alerts,
                )
                held_back = _held_back(why) if why is not None else None
            if held_back is not None:
                face = face.model_copy(update={"alert": held_back})
            elif assignment.alert:
                alert = self._alert_for(
                    result,
                    alert_id,
                    faces=[face],
                    visit_id=visit.visit_id,
                    visit_frames=visit.frames,
                    first_seen=visit.first_seen,
                    stranger_id=recall.stranger.stranger_id,
                    stranger_visits=recall.stranger.visits,
                    stranger_previous_seen=recall.stranger.previous_seen,
                    question=asked.get(i),
                )
                handed = self.notifier.send(alert)
                face = face.model_copy(update={"alert": handed})
            else:
                assert assignment.held_back is not None
                face = face.model_copy(update={"alert": _held_back(assignment.held_back)})
            faces[i] = face
            assert face.alert is not None
            outcomes.append(face.alert)
        sent = [o for o in outcomes if o.status is not DeliveryStatus.HELD_BACK]
        return faces, (sent[0] if sent else outcomes[0])

    def _ask(
        self,
        judged: FrameResult,
        encodings: dict[int, np.ndarray],
        gallery: Gallery | None,
        negatives: dict[str, np.ndarray],
    ) -> dict[int, Question]:
        """The frame's near-misses into the household's questions (nothing is read or
        written for a frame without one). Questions are advice: a failure to keep them is
        logged and the frame judged on, whatever it was."""
        if self.questions is None:
            return {}
        try:
            misses = near_misses(
                judged.faces,
                encodings,
                frame_key=judged.frame_key,
                gallery=gallery,
                policy=self.policy,
                negatives=negatives,
            )
            if not misses:
                return {}
            return self.questions.offer(
                judged.household,
                misses,
                now=judged.processed_at,  # questions wait by the wall clock, as they are read
                same_person=self.settings.same_person_threshold,
            )
        except Exception:  # whatever it is, the frame's verdicts and alert come first
            log.exception("%s: questions not kept", judged.frame_key)
            return {}

    def _household_rules(self, household: str) -> HouseholdSettings:
        """The household's alert rules, read at most once per encodings_check_seconds: not
        a settings read for every frame. Unreadable settings are the defaults here (no
        rule holds anything back); notify keeps such a household's alerts as dead letters."""
        cached = self._rules.get(household)
        if cached is not None and time.monotonic() - cached[0] < self.settings.encodings_check_seconds:
            return cached[1]
        try:
            rules = load_household_settings(self.storage, household)
        except BadInput as exc:
            log.error("%s; judging by the default rules", exc)
            rules = HouseholdSettings()
        self._rules[household] = (time.monotonic(), rules)
        return rules

    def _announce_arrivals(
        self, event: StorageEvent, result: FrameResult, rules: HouseholdSettings
    ) -> list[FaceVerdict]:
        """Named people whose arrival the household asked for: one notice per visit."""
        faces = list(result.faces)
        named = {f.name: i for i, f in reversed(list(enumerate(faces))) if f.verdict == "known" and f.name}
        due = self.arrivals.arrive(
            result.household,
            sorted(named),
            frame_key=result.frame_key,
            now=result.captured_at,
            window=self.visit_policy(rules).window,
            arrivals=rules.arrivals,
            no_alerts=rules.no_alerts,
        )
        for name in due:
            i = named[name]
            alert = self._alert_for(result, alert_id_for(event, i), faces=[faces[i]], kind="arrival")
            faces[i] = faces[i].model_copy(update={"alert": self.notifier.send(alert)})
        return faces

    def _remember(
        self,
        result: FrameResult,
        faces: list[tuple[int, str]],
        encodings: dict[int, np.ndarray],
        image: np.ndarray,
    ) -> list[Recall]:
        """Each stranger face (index, visit id) placed among the household's remembered strangers."""
        sightings = []
        for i, visit_id in faces:
            face = result.faces[i]
            seen = StrangerSighting(
                face.verdict_id or "",
                result.frame_key,
                result.camera,
                result.captured_at,
                (face.box.x, face.box.y, face.box.w, face.box.h),
            )
            sightings.append(
                NewSighting(
                    result.household,
                    seen,
                    encodings[i],
                    visit_id,
                    face_px=min(face.box.w, face.box.h),
                    sharpness=sharpness(image, face.box),
                )
            )
        return self.strangers.record(
            result.household,
            sightings,
            now=result.captured_at,
            policy=self.stranger_policy,
            memory=timedelta(days=self.settings.stranger_memory_days),
            crop=lambda new: crop_face(image, Box(*new.sighting.box)),
            same_visit_limit=self.settings.match_threshold,
        )

    def _alert_operator(self, result: FrameResult, problem: str) -> AlertOutcome:
        """Faces that cannot be judged are not strangers (no alert flood), but somebody must
        fix the cause: one operator alert per household and day (notify sends an id once)."""
        day = result.captured_at.astimezone(UTC).strftime("%Y%m%d")
        alert_id = hashlib.sha256(f"operator:{result.household}:{day}".encode()).hexdigest()[:20]
        alert = self._alert_for(result, alert_id, faces=[], kind="operator", problem=problem)
        return self.notifier.send(alert)

    def _alert_for(self, result: FrameResult, alert_id: str, **details: Any) -> Alert:
        return Alert(
            alert_id=alert_id,
            household=result.household,
            camera=result.camera,
            bucket=self.storage.bucket,
            frame_key=result.frame_key,
            captured_at=result.captured_at,
            faces_in_frame=len(result.faces),
            **details,
        )
