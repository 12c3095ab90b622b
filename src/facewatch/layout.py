"""Where everything lives in the bucket. Every key belongs to one household:

    households/<household>/known/<person>/<photo>.jpg        known photos (enroll)
    households/<household>/encodings.npz                      known encodings, one object
    households/<household>/frames/<camera>/<YYYYMMDD>/<HHMMSSffffff>-<id>.jpg
                                                              face frames; boxes etc. in
                                                              the object's user metadata
    households/<household>/results/<camera>/<YYYYMMDD>/<HHMMSSffffff>-<id>.json
                                                              the verdict on that frame
    households/<household>/settings.json                      recipients, channels, time zone
    households/<household>/state/visits.json                  open stranger visits
    households/<household>/state/strangers.json               remembered strangers, as an older
                                                              facewatch kept them (read once, moved)
    households/<household>/state/strangers/index.json         remembered strangers: their shards
    households/<household>/state/strangers/<NN>-<version>.json  one shard's strangers
    households/<household>/state/arrivals.json                named people last seen (arrival notices)
    households/<household>/state/questions.json               questions "Is this X?" and near-misses
    households/<household>/strangers/<stranger-id>/<verdict>.crop  their face crops (JPEG)
    households/<household>/index/days/<YYYYMMDD>.json         the console's summary of a day
    households/<household>/index/days/<YYYYMMDD>.behind       that summary lacks results (reindex)
    households/<household>/index/people.json                  who came on which day, at which camera
    households/<household>/negatives.npz                      "this is not X" faces
    households/<household>/report/index.html                  the static report page
    households/<household>/alerts/sent/<alert-id>.<channel>.json  delivered (idempotency)
    households/<household>/alerts/claims/<alert-id>.<channel>.json  a send in progress
    households/<household>/alerts/dead/<alert-id>.json        alerts that could not be delivered
    households/<household>/alerts/faces/<alert-id>.crop       the face an MQTT alert published
    households/<household>/links/used/<signature>.json        "I know this person" links used
    households/<household>/sessions/<session-id>.json         console sessions (sign-out deletes)

One prefix belongs to no household: the SNS messages recognize has taken, by their
`MessageId`, so a replayed one is a duplicate (web/sns_replays.py, which also sweeps them):

    sns/seen/<YYYYMMDDHH>/<message-id>.json                   the hour is the message's Timestamp

Results mirror their frame's key, so each is found from the other without a lookup, and
they sit outside `frames/` so writing one never re-triggers recognition.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from facewatch.exceptions import BadKey

ROOT = "households"
EXPORTS_ROOT = "exports"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
EXPIRY_TAG = ("facewatch-expiry", "frame")
"""The tag a frame is uploaded with when FACEWATCH_FRAME_EXPIRY_DAYS is set: the bucket's
lifecycle rule expires objects carrying it (infra/aws/template.yaml, infra/k8s's ILM);
retention lifts it from the frames that must stay."""

# Matched with fullmatch: `$` alone also matches before a final newline, and "door\n" would
# pass into keys, MQTT topics and log lines.
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Person names are shown to people ("Lin-Manuel Miranda"), so they keep case and spaces,
# but never a path separator, a dot-only segment or a control character.
_PERSON = re.compile(r"[^\W_][\w .'-]{0,63}")
_FRAME_NAME = re.compile(r"(?P<stamp>[0-9]{12})-(?P<id>[0-9a-f]{8,32})")


def check_id(value: str, what: str = "id") -> str:
    """Household and camera ids: lowercase letters, digits, '-' and '_', 1-63 long."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadKey(
            f"invalid {what} {value!r}: use 1-63 of a-z, 0-9, '-', '_', starting with a letter or digit"
        )
    return value


def check_person(name: str) -> str:
    if not isinstance(name, str) or not _PERSON.fullmatch(name) or name.strip() != name:
        raise BadKey(f"invalid person name {name!r}: letters, digits, spaces, . ' - (max 64)")
    return name


def household_of(key: str) -> str:
    """The household a key of facewatch's layout belongs to (frames, known photos, state alike)."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != ROOT:
        raise BadKey(f"not a household's key: {key!r}")
    return check_id(parts[1], "household")


def household_prefix(household: str) -> str:
    return f"{ROOT}/{check_id(household, 'household')}/"


def known_prefix(household: str, person: str | None = None) -> str:
    base = f"{household_prefix(household)}known/"
    return base if person is None else f"{base}{check_person(person)}/"


def known_photo_key(household: str, person: str, photo_name: str) -> str:
    return f"{known_prefix(household, person)}{photo_name}"


def encodings_key(household: str) -> str:
    return f"{household_prefix(household)}encodings.npz"


def household_settings_key(household: str) -> str:
    return f"{household_prefix(household)}settings.json"


def visits_key(household: str) -> str:
    return f"{household_prefix(household)}state/visits.json"


def strangers_key(household: str) -> str:
    """The stranger memory as one object, as facewatch kept it before shards."""
    return f"{household_prefix(household)}state/strangers.json"


def stranger_memory_prefix(household: str) -> str:
    """The stranger memory: an index naming the current version of each shard, and the
    shards (recognize/stranger_store.py)."""
    return f"{household_prefix(household)}state/strangers/"


def arrivals_key(household: str) -> str:
    return f"{household_prefix(household)}state/arrivals.json"


def questions_key(household: str) -> str:
    """The questions "Is this X?" waiting for the household, and the near-misses behind them."""
    return f"{household_prefix(household)}state/questions.json"


def index_days_prefix(household: str) -> str:
    """The console's per-day summaries (recognize/day_index.py), and their behind markers."""
    return f"{household_prefix(household)}index/days/"


def day_index_key(household: str, day: str) -> str:
    return f"{index_days_prefix(household)}{day}.json"


def index_behind_key(household: str, day: str) -> str:
    """Marks a day whose summary may lack results (a failed write): reindex clears it."""
    return f"{index_days_prefix(household)}{day}.behind"


def people_index_key(household: str) -> str:
    return f"{household_prefix(household)}index/people.json"


def strangers_prefix(household: str) -> str:
    """Every remembered stranger's face crops, one folder per stranger."""
    return f"{household_prefix(household)}strangers/"


def stranger_crops_prefix(household: str, stranger_id: str) -> str:
    return f"{strangers_prefix(household)}{check_id(stranger_id, 'stranger id')}/"


def stranger_crop_key(household: str, stranger_id: str, verdict_id: str) -> str:
    """A remembered stranger's face crop. Not an image suffix on purpose: the bucket notifies
    recognize of images only, and a crop is nothing to judge."""
    name = verdict_id.replace("/", "_").replace("#", "_")
    return f"{stranger_crops_prefix(household, stranger_id)}{name}.crop"


def used_link_key(household: str, signature: str) -> str:
    """Where the one use of an "I know this person" link is recorded, named by its
    (verified) signature: one key per link."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", signature):
        raise BadKey("not a link signature")
    return f"{household_prefix(household)}links/used/{signature}.json"


def sessions_prefix(household: str) -> str:
    """A household's console sessions, one record each: a cookie works while its record is
    here, so signing out deletes one and "sign out everywhere" deletes them all."""
    return f"{household_prefix(household)}sessions/"


def session_key(household: str, session_id: str) -> str:
    """One console session's record, named by its (signed) id."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,96}", session_id):
        raise BadKey("not a session id")
    return f"{sessions_prefix(household)}{session_id}.json"


def negatives_key(household: str) -> str:
    """Faces the household said are not a given known person ("this is not X")."""
    return f"{household_prefix(household)}negatives.npz"


def report_key(household: str) -> str:
    return f"{household_prefix(household)}report/index.html"


def sent_alert_key(household: str, alert_id: str, channel: str) -> str:
    return f"{household_prefix(household)}alerts/sent/{alert_id}.{channel}.json"


def alert_claim_key(household: str, alert_id: str, channel: str) -> str:
    return f"{household_prefix(household)}alerts/claims/{alert_id}.{channel}.json"


def alert_face_key(household: str, alert_id: str) -> str:
    """The face an alert is about, cut from its frame (a JPEG; `.crop`, like a stranger's,
    so the bucket's image notifications do not send it to recognize)."""
    return f"{household_prefix(household)}alerts/faces/{alert_id}.crop"


def announced_prefix(household: str) -> str:
    """What the household's MQTT broker has been told: one marker per device announced to
    Home Assistant (alerts/announce.py), so a new one waits before its first visit and a
    removed one is taken back."""
    return f"{household_prefix(household)}alerts/home-assistant/announced/"


def announced_key(household: str, device: str) -> str:
    return f"{announced_prefix(household)}{device}.json"


def visits_today_key(household: str) -> str:
    """The household's alerted visits of the day, for Home Assistant's count."""
    return f"{household_prefix(household)}alerts/home-assistant/today.json"


def dead_alerts_prefix(household: str) -> str:
    return f"{household_prefix(household)}alerts/dead/"


def dead_alert_key(household: str, alert_id: str) -> str:
    return f"{dead_alerts_prefix(household)}{alert_id}.json"


def exports_prefix(household: str) -> str:
    """A household's exports made for the console on AWS (a zip each): outside its folder,
    so no export holds an older one, and expired after a day by one lifecycle rule."""
    return f"{EXPORTS_ROOT}/{check_id(household, 'household')}/"


def export_key(household: str, name: str) -> str:
    return f"{exports_prefix(household)}{name}.zip"


def frames_prefix(household: str) -> str:
    return f"{household_prefix(household)}frames/"


def results_prefix(household: str) -> str:
    return f"{household_prefix(household)}results/"


@dataclass(frozen=True, slots=True)
class FrameKey:
    """The parts of a frame's key; `str()` gives the key itself."""

    household: str
    camera: str
    day: str
    name: str
    suffix: str = ".jpg"

    @classmethod
    def new(cls, household: str, camera: str, captured_at: datetime) -> FrameKey:
        at = captured_at.astimezone(UTC)
        return cls(
            household=check_id(household, "household"),
            camera=check_id(camera, "camera"),
            day=at.strftime("%Y%m%d"),
            name=f"{at.strftime('%H%M%S%f')}-{uuid.uuid4().hex[:12]}",
        )

    @classmethod
    def parse(cls, key: str) -> FrameKey:
        parts = key.split("/")
        if len(parts) != 6 or parts[0] != ROOT or parts[2] != "frames":
            raise BadKey(f"not a frame key: {key!r}")
        _, household, _, camera, day, filename = parts
        stem, dot, ext = filename.rpartition(".")
        suffix = f"{dot}{ext}".lower()
        if not dot or suffix not in IMAGE_SUFFIXES:
            raise BadKey(f"not an image frame key: {key!r}")
        if not (day.isascii() and day.isdigit() and len(day) == 8) or not _FRAME_NAME.fullmatch(stem):
            raise BadKey(f"malformed frame key: {key!r}")
        return cls(check_id(household, "household"), check_id(camera, "camera"), day, stem, suffix)

    def __str__(self) -> str:
        return f"{frames_prefix(self.household)}{self.camera}/{self.day}/{self.name}{self.suffix}"

    @property
    def frame_id(self) -> str:
        return f"{self.camera}/{self.day}/{self.name}"

    @property
    def result_key(self) -> str:
        return f"{results_prefix(self.household)}{self.camera}/{self.day}/{self.name}.json"

    def verdict_id(self, face_index: int) -> str:
        """A stable id for one judged face: household, the frame's id and the face's index."""
        return f"{self.household}/{self.frame_id}#{face_index}"

    @classmethod
    def from_verdict_id(cls, verdict_id: str) -> tuple[FrameKey, int]:
        """The frame and face index a verdict id names. The id carries no file suffix: use the
        key's result_key, and the frame key recorded in that result."""
        frame_id, hash_, index = verdict_id.strip().partition("#")
        parts = frame_id.split("/")
        # isdigit() alone takes other scripts' digits ("٣"), which int() reads as 3.
        if not hash_ or not (index.isascii() and index.isdigit()) or len(parts) != 4:
            raise BadKey(f"not a verdict id: {verdict_id!r} (expected household/camera/YYYYMMDD/name#face)")
        household, rest = parts[0], "/".join(parts[1:])
        key = cls.parse(f"{frames_prefix(household)}{rest}.jpg")
        return key, int(index)


@dataclass(frozen=True, slots=True)
class KnownPhotoKey:
    household: str
    person: str
    filename: str

    @classmethod
    def parse(cls, key: str) -> KnownPhotoKey:
        parts = key.split("/")
        if len(parts) != 5 or parts[0] != ROOT or parts[2] != "known":
            raise BadKey(f"not a known-photo key: {key!r}")
        _, household, _, person, filename = parts
        if not filename.lower().endswith(IMAGE_SUFFIXES) or filename.startswith("."):
            raise BadKey(f"not an image: {key!r}")
        return cls(check_id(household, "household"), check_person(person), filename)


def classify_key(key: str) -> FrameKey | KnownPhotoKey:
    """What an object key is: a frame to judge or a known photo to (re)learn."""
    parts = key.split("/")
    if len(parts) > 2 and parts[2] == "known":
        return KnownPhotoKey.parse(key)
    return FrameKey.parse(key)


SNS_SEEN_PREFIX = "sns/seen/"


def sns_seen_key(hour: str, message_id: str) -> str:
    """Where recognize records an SNS message it took: under the hour (YYYYMMDDHH, UTC) of
    the message's signed Timestamp, so whole hours can be swept once no message of them
    can be fresh any more."""
    if not re.fullmatch(r"\d{10}", hour):
        raise BadKey(f"not an hour (YYYYMMDDHH): {hour!r}")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", message_id):
        raise BadKey(f"not an SNS MessageId: {message_id[:120]!r}")
    return f"{SNS_SEEN_PREFIX}{hour}/{message_id}.json"
