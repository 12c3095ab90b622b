from datetime import UTC, datetime

import pytest

from facewatch.exceptions import BadKey
from facewatch.layout import FrameKey, KnownPhotoKey, check_id, check_person, classify_key, encodings_key


def test_frame_key_round_trips_and_names_its_result():
    key = FrameKey.new("home", "front-door", datetime(2026, 11, 25, 14, 3, 12, 5, tzinfo=UTC))
    text = str(key)
    assert text.startswith("households/home/frames/front-door/20261125/140312000005-")
    assert text.endswith(".jpg")
    assert FrameKey.parse(text) == key
    assert key.result_key == text.replace("/frames/", "/results/").removesuffix(".jpg") + ".json"


@pytest.mark.parametrize(
    "key",
    [
        "households/home/frames/door/20261125/140312000005-abcdef12.gif",
        "households/home/frames/door/2026112/140312000005-abcdef12.jpg",
        "households/home/frames/../20261125/140312000005-abcdef12.jpg",
        "households/Home/frames/door/20261125/140312000005-abcdef12.jpg",
        "/households/home/frames/door/20261125/140312000005-abcdef12.jpg",
        "households/home/results/door/20261125/140312000005-abcdef12.jpg",
        "households/home/frames/door/20261125/x/140312000005-abcdef12.jpg",
        "households/home/frames/door/20261125/not-a-frame.jpg",
        "households/home/frames/door\n/20261125/140312000005-abcdef12.jpg",
        "households/home/frames/door/2026112\u0665/140312000005-abcdef12.jpg",
        "",
    ],
)
def test_frame_key_refuses_keys_outside_the_layout(key):
    with pytest.raises(BadKey):
        FrameKey.parse(key)


@pytest.mark.parametrize(
    "value", ["", "-x", "UPPER", "a/b", "..", "a" * 64, "é", "a b", "door\n", "door\r\n", "\ndoor"]
)
def test_ids_are_validated(value):
    with pytest.raises(BadKey):
        check_id(value, "household")


@pytest.mark.parametrize("name", ["Lin-Manuel Miranda", "O'Brien", "Zoë", "alex_lacamoire"])
def test_person_names_keep_their_spelling(name):
    assert check_person(name) == name


@pytest.mark.parametrize(
    "name", ["", "..", "a/b", " lead", "trail ", "x\x00", "_hidden", "a" * 65, "Joe\n", "Joe\nBiden"]
)
def test_person_names_cannot_escape_their_folder(name):
    with pytest.raises(BadKey):
        check_person(name)


def test_classify_key_tells_frames_from_known_photos():
    photo = classify_key("households/home/known/Joe Biden/biden.jpg")
    assert photo == KnownPhotoKey("home", "Joe Biden", "biden.jpg")
    assert isinstance(classify_key("households/home/frames/d/20261125/140312000005-abcdef12.png"), FrameKey)
    with pytest.raises(BadKey):
        classify_key(encodings_key("home"))


@pytest.mark.parametrize("index", ["٣", "３", "³", "-1", "", "1x"])
def test_a_verdict_ids_face_index_is_ascii_digits(index):
    """isdigit() alone takes other scripts' digits (int() reads "٣" as 3, "³" not at all)."""
    with pytest.raises(BadKey):
        FrameKey.from_verdict_id(f"home/door/20261125/140312000005-1b6c52bf41e0#{index}")
    assert FrameKey.from_verdict_id("home/door/20261125/140312000005-1b6c52bf41e0#12")[1] == 12
