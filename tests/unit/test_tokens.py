from datetime import UTC, datetime, timedelta

import pytest

from facewatch.exceptions import BadKey
from facewatch.frames import Box
from facewatch.tokens import BadToken, sign_face, verify_face

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEY = "households/home/frames/door/20261125/120000000000-abcdef123456.jpg"
SECRET = "link-secret"


def token(**kw):
    args = {
        "household": "home",
        "frame_key": KEY,
        "box": Box(1, 2, 30, 40),
        "now": NOW,
        "ttl": timedelta(days=7),
    }
    args.update(kw)
    return sign_face(SECRET, args.pop("household"), args.pop("frame_key"), args.pop("box"), **args)


def test_a_token_carries_its_face():
    claim = verify_face(SECRET, token(), now=NOW + timedelta(days=1))
    assert (claim.household, claim.frame_key, claim.box) == ("home", KEY, Box(1, 2, 30, 40))


def test_an_expired_token_is_refused():
    with pytest.raises(BadToken, match="expired"):
        verify_face(SECRET, token(), now=NOW + timedelta(days=7, seconds=1))


def test_a_token_from_another_secret_is_refused():
    with pytest.raises(BadToken, match="signature"):
        verify_face("other-secret", token(), now=NOW)


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2], lambda t: "x" + t, lambda t: "", lambda t: t.replace(".", "")]
)
def test_a_forged_token_is_refused(mangle):
    with pytest.raises(BadToken):
        verify_face(SECRET, mangle(token()), now=NOW)


def test_changing_the_face_or_household_breaks_the_signature():
    import base64
    import json

    body, mac = token().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["h"] = "neighbours"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(BadToken, match="signature"):
        verify_face(SECRET, f"{forged}.{mac}", now=NOW)


def test_a_frame_of_another_household_is_refused_even_if_signed():
    other = KEY.replace("households/home/", "households/shop/")
    with pytest.raises(BadToken, match="disagree"):
        verify_face(SECRET, token(frame_key=other), now=NOW)


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/\x00/x",
        "/\u200b/evil.example",
        "\t//evil.example",
    ],
)
def test_a_sign_in_link_goes_to_a_path_of_the_console_only(next_path):
    """Browsers drop tabs and line breaks from a URL: "/\\t/evil.example" is another site."""
    from facewatch.tokens import sign_in_link, verify_sign_in

    token = sign_in_link(SECRET, "home", now=NOW, ttl=timedelta(hours=1), next_path=next_path)
    assert verify_sign_in(SECRET, token, now=NOW).next_path == "/"


def test_a_plain_console_path_is_kept():
    from facewatch.tokens import sign_in_link, verify_sign_in

    token = sign_in_link(SECRET, "home", now=NOW, ttl=timedelta(hours=1), next_path="/faces?camera=a%20b")
    assert verify_sign_in(SECRET, token, now=NOW).next_path == "/faces?camera=a%20b"


def test_detect_tokens_differ_per_household_and_camera():
    from facewatch.tokens import household_detect_token

    home = household_detect_token(SECRET, "home")
    assert home == household_detect_token(SECRET, "home")
    door = household_detect_token(SECRET, "home", "door")
    assert len({home, household_detect_token(SECRET, "shop"), door}) == 3
    with pytest.raises(BadKey):
        household_detect_token(SECRET, "home", "door\n")


# --- sign-in links and sessions ------------------------------------------------------------

FACE = "home/door/20261125/120000000000-abcdef123456#0"


def test_an_alerts_sign_in_link_names_its_face_and_leads_to_it():
    from facewatch.tokens import sign_in_link, verify_sign_in

    claim = verify_sign_in(
        SECRET, sign_in_link(SECRET, "home", now=NOW, ttl=timedelta(days=7), face=FACE), now=NOW
    )
    assert claim.face == FACE
    assert claim.next_path == "/visit?id=home%2Fdoor%2F20261125%2F120000000000-abcdef123456%230"
    whole = verify_sign_in(SECRET, sign_in_link(SECRET, "home", now=NOW, ttl=timedelta(hours=1)), now=NOW)
    assert whole.face is None and whole.next_path == "/"


def test_a_sign_in_link_for_a_face_of_another_household_is_not_made():
    from facewatch.exceptions import BadInput
    from facewatch.tokens import sign_in_link

    with pytest.raises(BadInput, match="not of household"):
        sign_in_link(SECRET, "next-door", now=NOW, ttl=timedelta(days=7), face=FACE)


def test_an_alert_link_of_before_is_limited_to_the_face_it_opens():
    """Alert emails already sent carry whole-console links that open a face's page."""
    from urllib.parse import quote

    from facewatch.tokens import sign_in_link, verify_sign_in

    old = sign_in_link(
        SECRET, "home", now=NOW, ttl=timedelta(days=7), next_path=f"/face?id={quote(FACE, safe='')}"
    )
    assert verify_sign_in(SECRET, old, now=NOW).face == FACE
    theirs = FACE.replace("home/", "next-door/", 1)
    forged = sign_in_link(
        SECRET, "home", now=NOW, ttl=timedelta(days=7), next_path=f"/face?id={quote(theirs, safe='')}"
    )
    with pytest.raises(BadToken, match="malformed"):
        verify_sign_in(SECRET, forged, now=NOW)


def test_a_sessions_id_starts_with_its_expiry_and_names_its_record():
    from facewatch.layout import session_key
    from facewatch.tokens import sign_session, verify_session

    cookie, session = sign_session(SECRET, "home", now=NOW, ttl=timedelta(hours=12))
    assert session.session_id.split("-", 1)[0] == str(int((NOW + timedelta(hours=12)).timestamp()))
    assert verify_session(SECRET, cookie, now=NOW).session_id == session.session_id
    assert session_key("home", session.session_id) == f"households/home/sessions/{session.session_id}.json"
