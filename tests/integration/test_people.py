"""A household's known people changed by hand (recognize/people.py) against a real S3
server and the real encoder: each change rebuilds the known set once, and an upload that
recognize could not learn from is refused before anything is written."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from facewatch.exceptions import BadImage, BadInput, BadKey
from facewatch.faces.gallery import Gallery
from facewatch.household.settings import (
    HouseholdSettings,
    load_household_settings,
    save_household_settings,
)
from facewatch.images import encode_jpeg
from facewatch.layout import encodings_key, known_prefix, negatives_key
from facewatch.recognize.known import load_gallery
from facewatch.recognize.negatives import add_negative, load_negatives
from facewatch.recognize.people import (
    add_photos,
    known_names,
    list_people,
    remove_person,
    remove_photo,
    rename_person,
)
from facewatch.recognize.photo_checks import safe_photo_name
from facewatch.recognize.photo_gates import Caution
from tests.conftest import TESTDATA
from tests.street import MAX_PIXELS

pytestmark = pytest.mark.integration
MAX_BYTES = 20 * 1024 * 1024
OBAMA = sorted((TESTDATA / "known" / "obama").iterdir())
BIDEN = TESTDATA / "known" / "biden" / "biden.jpg"


def photos(*paths, name=None):
    return [(name or p.name, p.read_bytes()) for p in paths]


def stored(storage, household="home"):
    return sorted(storage.list_keys(f"households/{household}/"))


def test_people_are_added_listed_renamed_and_removed_with_one_rebuild_each(storage):
    added = add_photos(storage, "home", "obama", photos(*OBAMA), MAX_PIXELS, MAX_BYTES)
    assert added.gallery.names == ["obama", "obama"]
    assert added.warning_lines() == []  # two different photos of him
    gallery = add_photos(
        storage, "home", "biden", photos(BIDEN, name="C:\\Users\\me\\..\\IMG 1.JPG"), MAX_PIXELS, MAX_BYTES
    ).gallery
    assert sorted(gallery.names) == ["biden", "obama", "obama"]
    assert f"{known_prefix('home', 'biden')}IMG-1.jpg" in gallery.photo_keys  # no folder, a safe name
    # The same file name again is a second photo, not a replacement of the first.
    again = add_photos(storage, "home", "obama", photos(OBAMA[0]), MAX_PIXELS, MAX_BYTES)
    gallery = again.gallery
    assert gallery.names.count("obama") == 3
    assert [w.kind for w in again.photos[0].warnings] == [Caution.NEAR_DUPLICATE]  # kept, but told
    assert f"{known_prefix('home', 'obama')}obama-2.jpg" in gallery.photo_keys

    people = list_people(storage, "home")
    assert [(p.name, p.photos, p.with_face) for p in people] == [("biden", 1, 1), ("obama", 3, 3)]
    assert known_names(storage, "home") == [p.name for p in people]
    assert list(people[1].photo_keys) == sorted(people[1].photo_keys)
    assert all(k.startswith(known_prefix("home", "obama")) for k in people[1].photo_keys)

    removed = people[1].photo_keys[0]
    gallery = remove_photo(storage, "home", removed, MAX_PIXELS)
    assert gallery.names.count("obama") == 2 and removed not in gallery.photo_keys
    assert not storage.exists(removed)
    with pytest.raises(BadInput, match="no photo"):
        remove_photo(storage, "home", removed, MAX_PIXELS)
    with pytest.raises(BadInput, match="not a photo of household home"):
        remove_photo(storage, "home", people[1].photo_keys[1].replace("/home/", "/other/"), MAX_PIXELS)
    with pytest.raises(BadInput, match="not a known photo"):
        remove_photo(storage, "home", encodings_key("home"), MAX_PIXELS)

    # Renamed: the photos move, "not X" faces follow, the old name is gone from the known set.
    add_negative(
        storage, "home", "obama", np.full(128, 0.05), "home/door/20261125/090000000000-abcdef12#0", MAX_PIXELS
    )
    gallery = rename_person(storage, "home", "obama", "Barack Obama", MAX_PIXELS)
    assert sorted(gallery.names) == ["Barack Obama", "Barack Obama", "biden"]
    assert not list(storage.list_keys(known_prefix("home", "obama")))
    assert load_negatives(storage, "home")[0].names == ["Barack Obama"]
    with pytest.raises(BadInput, match=r"already knows someone called 'biden'.*merge"):
        rename_person(storage, "home", "Barack Obama", "biden", MAX_PIXELS)
    with pytest.raises(BadKey):
        rename_person(storage, "home", "biden", "../x", MAX_PIXELS)
    with pytest.raises(BadInput, match="knows nobody called 'obama'"):
        rename_person(storage, "home", "obama", "Someone", MAX_PIXELS)

    gallery = remove_person(storage, "home", "biden", MAX_PIXELS)
    assert gallery.names == ["Barack Obama", "Barack Obama"]
    assert [p.name for p in list_people(storage, "home")] == ["Barack Obama"]
    with pytest.raises(BadInput, match="knows nobody"):
        remove_person(storage, "home", "biden", MAX_PIXELS)
    assert load_gallery(storage, "home")[0].names == gallery.names


def test_renaming_into_someone_known_merges_them_when_asked(storage):
    add_photos(storage, "home", "obama", photos(OBAMA[0]), MAX_PIXELS, MAX_BYTES)
    add_photos(storage, "home", "Barack", photos(OBAMA[0], OBAMA[1]), MAX_PIXELS, MAX_BYTES)
    gallery = rename_person(storage, "home", "obama", "Barack", MAX_PIXELS, merge=True)
    assert gallery.names == ["Barack"] * 3
    assert [(p.name, p.photos) for p in list_people(storage, "home")] == [("Barack", 3)]


def bomb() -> bytes:
    """A PNG that says 20000 x 20000 pixels (400 MP) in a few hundred kilobytes."""
    buf = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("upload", "refusal"),
    [
        (lambda: b"hello, not an image", "not a readable image"),
        (lambda: BIDEN.read_bytes(), "over the limit of 300000"),
        (bomb, "too large"),
        (lambda: io.BytesIO(BIDEN.read_bytes()[:-2000]).getvalue(), "truncated JPEG"),
        (lambda: encode_jpeg(np.full((400, 400, 3), 128, np.uint8)), "no face found"),
        (
            lambda: cv2.imencode(".bmp", np.zeros((50, 50, 3), np.uint8))[1].tobytes(),
            "unsupported image format",
        ),
    ],
    ids=["text", "too-big", "bomb", "cut-short", "no-face", "bmp"],
)
def test_an_upload_recognize_could_not_learn_from_is_refused_and_nothing_is_written(storage, upload, refusal):
    storage.put(f"{known_prefix('home', 'obama')}obama.jpg", OBAMA[0].read_bytes())  # as it was
    before = {k: storage.etag(k) for k in stored(storage)}
    batch = [("good.jpg", OBAMA[1].read_bytes()), ("bad.jpg", upload())]
    with pytest.raises(BadInput, match=refusal) as refused:
        add_photos(
            storage, "home", "obama", batch, MAX_PIXELS, 300_000 if refusal.startswith("over") else MAX_BYTES
        )
    assert "bad.jpg" in str(refused.value)
    assert {k: storage.etag(k) for k in stored(storage)} == before  # not even the good photo
    assert isinstance(refused.value, BadImage) or refusal == "no face found"


def test_nothing_to_add_is_refused(storage):
    with pytest.raises(BadInput, match="no photos"):
        add_photos(storage, "home", "obama", [], MAX_PIXELS, MAX_BYTES)
    assert stored(storage) == []
    assert list_people(storage, "home") == []
    assert not storage.exists(negatives_key("home"))


def test_photo_names_are_made_safe():
    assert safe_photo_name("../../etc/passwd", "JPEG") == "passwd.jpg"
    assert safe_photo_name("C:\\photos\\me.PNG", "PNG") == "me.png"
    assert safe_photo_name("me.png", "JPEG") == "me.jpg"  # the suffix says what it is
    assert safe_photo_name("...", "JPEG") == "photo.jpg"
    assert safe_photo_name("x" * 200 + ".jpeg", "JPEG") == "x" * 60 + ".jpeg"
    assert Gallery().names == []


def test_a_renamed_persons_rules_follow_them(storage):
    add_photos(storage, "home", "obama", photos(OBAMA[0]), MAX_PIXELS, MAX_BYTES)
    add_photos(storage, "home", "Joe", photos(OBAMA[1]), MAX_PIXELS, MAX_BYTES)
    rules = HouseholdSettings(arrivals=["obama", "Joe"], no_alerts=["obama", "stranger-1"])
    save_household_settings(storage, "home", rules)
    rename_person(storage, "home", "obama", "Barack", MAX_PIXELS)
    after = load_household_settings(storage, "home")
    assert (after.arrivals, after.no_alerts) == (["Barack", "Joe"], ["Barack", "stranger-1"])
    rename_person(storage, "home", "Barack", "Joe", MAX_PIXELS, merge=True)
    assert load_household_settings(storage, "home").arrivals == ["Joe"]
