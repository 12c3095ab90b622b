"""Remembered strangers corrected by hand, and "this is X" for any judged face, through
recognize's real code and a real S3 server: merging keeps every crop and adds up the counts,
splitting a face off makes it a stranger of its own, naming a stranger's face names the
whole stranger, and naming an unsure face enrolls that face. The street is walked once for
the module; each test works on a copy of that bucket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from facewatch.edge.uploads import store_face_frame
from facewatch.exceptions import BadInput
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.layout import FrameKey, known_prefix, stranger_crop_key, stranger_crops_prefix
from facewatch.recognize.known import load_gallery
from facewatch.recognize.naming import name_face
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import split_stranger_id
from facewatch.recognize.triggers import StorageEvent
from facewatch.records import FaceState
from facewatch.store.storage import Storage
from tests.conftest import clip_frame, copy_bucket
from tests.street import MAX_PIXELS, Collected, Walker, enroll_household, recognizer, walk_by

pytestmark = pytest.mark.integration
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
WALK = [Walker("alex-lacamoire.png", 0, frames=6), Walker("rose-leslie.jpg", 3, frames=6, row=1)]


@pytest.fixture(scope="module")
def walked(s3_endpoint, aws_env):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    storage = Storage(client, f"fw-edits-{uuid.uuid4().hex[:12]}")
    storage.ensure_bucket()
    enroll_household(storage)
    walk_by(storage, Collected(), WALK, T0)
    return storage


@pytest.fixture
def street(walked, storage):
    copy_bucket(walked, storage)
    strangers = StrangerStore(storage).load("home")[0].strangers
    alex, rose = sorted(strangers, key=lambda s: s.first_seen)
    return storage, alex, rose


def stranger_ids_in_results(storage, stranger):
    out = {}
    for seen in stranger.recent:
        key, index = FrameKey.from_verdict_id(seen.verdict_id)
        out[seen.verdict_id] = storage.get_json(key.result_key)["faces"][index]["stranger_id"]
    return out


def crops_are_all_there(storage, stranger):
    on_disk = set(storage.list_keys(stranger_crops_prefix("home", stranger.stranger_id)))
    return on_disk == set(stranger.crop_keys) and all(storage.get(k).body[:2] == b"\xff\xd8" for k in on_disk)


def test_two_strangers_merged_keep_every_crop_and_add_up_their_counts(street):
    storage, alex, rose = street
    store = StrangerStore(storage)

    merged = store.merge("home", alex.stranger_id, rose.stranger_id)

    book = store.load("home")[0]
    assert [s.stranger_id for s in book.strangers] == [alex.stranger_id]
    assert book.get(alex.stranger_id) == merged
    assert merged.sightings == alex.sightings + rose.sightings
    assert merged.visits == alex.visits + rose.visits
    assert (merged.first_seen, merged.last_seen) == (alex.first_seen, rose.last_seen)
    assert len(merged.representatives) == min(5, len(alex.representatives) + len(rose.representatives))
    assert crops_are_all_there(storage, merged)
    assert not list(storage.list_keys(stranger_crops_prefix("home", rose.stranger_id)))
    # Rose's faces now name the merged stranger, so naming one names them all.
    assert set(stranger_ids_in_results(storage, rose).values()) == {alex.stranger_id}

    with pytest.raises(BadInput, match="remembers no stranger"):
        store.merge("home", alex.stranger_id, rose.stranger_id)
    with pytest.raises(BadInput, match="itself"):
        store.merge("home", alex.stranger_id, alex.stranger_id)


def test_a_face_split_off_becomes_a_stranger_of_its_own(street):
    storage, alex, rose = street
    store = StrangerStore(storage)
    # Two people wrongly taken for one: Rose's face is a representative of the merged stranger.
    mixed = store.merge("home", alex.stranger_id, rose.stranger_id)
    rep_face = next(s for s in rose.recent if _is_rep(mixed, s))
    other_face = next(s for s in alex.recent if not _is_rep(mixed, s))

    alone = store.split("home", alex.stranger_id, rep_face.verdict_id)
    again = store.split("home", alex.stranger_id, rep_face.verdict_id)  # a retry: the same answer
    assert again == alone
    alone2 = store.split("home", alex.stranger_id, other_face.verdict_id, max_pixels=MAX_PIXELS)

    book = store.load("home")[0]
    left = book.get(alex.stranger_id)
    assert left is not None and len(book.strangers) == 3
    assert left.sightings == mixed.sightings - 2
    assert len(left.representatives) == len(mixed.representatives) - 1
    for new, face in ((alone, rep_face), (alone2, other_face)):
        assert new.stranger_id == split_stranger_id(face.verdict_id)
        assert book.get(new.stranger_id) == new and (new.sightings, new.visits) == (1, 1)
        assert new.recent == (face,) and len(new.representatives) == 1
        assert crops_are_all_there(storage, new)
        assert stranger_ids_in_results(storage, new) == {face.verdict_id: new.stranger_id}
    assert crops_are_all_there(storage, left)
    assert stranger_ids_in_results(storage, left) == {s.verdict_id: alex.stranger_id for s in left.recent}

    (own_rep,) = [s for s in left.recent if _is_rep(left, s)]
    with pytest.raises(BadInput, match="last face"):  # the only representative left
        store.split("home", left.stranger_id, own_rep.verdict_id)
    not_theirs = next(s for s in left.recent if s != own_rep)
    with pytest.raises(BadInput, match="not a face kept"):
        store.split("home", alone.stranger_id, not_theirs.verdict_id, max_pixels=MAX_PIXELS)
    assert store.load("home")[0] == book


def _is_rep(stranger, sighting):
    return stranger_crop_key("home", stranger.stranger_id, sighting.verdict_id) in stranger.crop_keys


def test_this_is_x_on_a_stranger_face_names_the_whole_stranger(street):
    storage, alex, rose = street
    face = alex.recent[2]

    named = name_face(storage, "home", face.verdict_id, "Alex", MAX_PIXELS)

    assert named.stranger is not None and named.stranger.stranger_id == alex.stranger_id
    assert named.photos == len(alex.representatives) + 1 and named.learned >= 2
    gallery = load_gallery(storage, "home")[0]
    assert gallery.names.count("Alex") == named.learned
    assert any(
        k.startswith(f"{known_prefix('home', 'Alex')}{alex.stranger_id}-face-") for k in gallery.photo_keys
    )
    book = StrangerStore(storage).load("home")[0]
    assert book.get(alex.stranger_id) is None and book.get(rose.stranger_id) is not None
    with pytest.raises(BadInput, match="not of household"):
        name_face(storage, "other", face.verdict_id, "Alex", MAX_PIXELS)


def test_this_is_x_on_an_unsure_face_enrolls_that_face(storage):
    # A household whose known set cannot be read yet: its faces are unsure, not strangers.
    notifier = Collected()
    frame = clip_frame(90)
    boxes = tuple(HaarDetector().detect(frame))
    key = store_face_frame(
        storage, frame, FrameMeta("home", "door", T0, frame.shape[1], frame.shape[0], boxes)
    )
    result = (
        recognizer(storage, notifier)
        .handle(StorageEvent("created", storage.bucket, key, storage.etag(key)))
        .result
    )
    assert result is not None and result.faces
    (unsure,) = [f for f in result.faces if f.state is FaceState.CANNOT_DECIDE][:1]
    assert unsure.verdict == "unsure"

    named = name_face(storage, "home", unsure.verdict_id, "Lin-Manuel Miranda", MAX_PIXELS)
    again = name_face(storage, "home", unsure.verdict_id, "Lin-Manuel Miranda", MAX_PIXELS)

    assert named.stranger is None and (named.photos, named.learned) == (1, 1) == (again.photos, again.learned)
    gallery = load_gallery(storage, "home")[0]
    assert gallery.names == ["Lin-Manuel Miranda"]  # the same face named twice is one photo
    with pytest.raises(BadInput, match="no verdict"):
        name_face(storage, "home", unsure.verdict_id.replace("#0", "#9"), "Lin-Manuel Miranda", MAX_PIXELS)
