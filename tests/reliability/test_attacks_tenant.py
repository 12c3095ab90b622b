"""A household's data as a whole, attacked: the console's "download everything" and erasure
(a session of one household reaching for another's, erasure without the typed id or its
CSRF token, from another site, from an alert's one-face session), and
`facewatch household import` given a zip made by an attacker (names that climb out of the
household's folder, symbolic links, a manifest that lies about checksums or sizes, zip
bombs, encrypted files, a manifest that names another household than the one meant).
Against the real console process and a real S3 server; each attack is counted in the
figures, must be refused with a message saying why, and leaves the bucket as it was."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from facewatch.exceptions import BadInput
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import household_prefix
from facewatch.tenant.archive import MAX_FILE_BYTES
from facewatch.tenant.imports import import_household
from facewatch.tokens import sign_in_link
from tests.conftest import run_cli
from tests.console_site import SECRET, Site, csrf, refused, sign_in, token_of
from tests.reliability.attacker import attacked, snapshot

pytestmark = pytest.mark.integration
MAX_PIXELS = 40_000_000
SETTINGS = json.dumps(HouseholdSettings().model_dump(mode="json")).encode()


# --- the attacker's zips ---------------------------------------------------------------------------


def entry(body: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "content_type": "image/jpeg"}


def forged_zip(
    files: dict[str, bytes],
    *,
    household: str = "home",
    manifest: dict[str, Any] | None = None,
    compression: int = zipfile.ZIP_STORED,
) -> bytes:
    """A zip whose manifest tells the truth about FILES (unless MANIFEST is given)."""
    out = io.BytesIO()
    listed = manifest if manifest is not None else {name: entry(body) for name, body in files.items()}
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
        archive.writestr(
            "manifest.json",
            json.dumps({"format": 1, "household": household, "exported_at": "", "files": listed}),
        )
    return out.getvalue()


def central_header(data: bytes, name: str) -> int:
    """Where NAME's entry in the zip's central directory starts."""
    header = data.index(b"PK\x01\x02")
    while not (
        int.from_bytes(data[header + 28 : header + 30], "little") == len(name)
        and data[header + 46 : header + 46 + len(name)] == name.encode()
    ):
        header = data.index(b"PK\x01\x02", header + 4)
    return header


def patched_size(data: bytes, name: str, size: int) -> bytes:
    """The zip with NAME's uncompressed size in its central directory set to SIZE (what a
    bomb's header says), without writing that many bytes."""
    at = central_header(data, name) + 24
    return data[:at] + size.to_bytes(4, "little") + data[at + 4 :]


def patched_flags(data: bytes, name: str, flags: int) -> bytes:
    at = central_header(data, name) + 8
    return data[:at] + flags.to_bytes(2, "little") + data[at + 2 :]


def import_refused(storage: Any, data: bytes, words: str, figures: Any, **options: Any) -> None:
    """The import of DATA is refused, saying WORDS, and writes nothing."""
    before = snapshot(storage)
    try:
        import_household(storage, io.BytesIO(data), MAX_PIXELS, **options)
    except BadInput as exc:
        got_through = False
        assert words in str(exc), str(exc)
    else:
        got_through = True
    attacked(figures, got_through)
    assert not got_through, f"imported: {words}"
    assert snapshot(storage) == before


# --- import: names, links, lies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../next-door/settings.json",
        "known/../../next-door/known/mallory/1.jpg",
        "/households/next-door/settings.json",
        "known//mallory/1.jpg",
        "./settings.json",
        "known\\..\\..\\next-door\\settings.json",
    ],
)
def test_an_import_whose_names_climb_out_of_the_household_is_refused(storage, figures, name):
    data = forged_zip({"settings.json": SETTINGS, name: b"\xff\xd8mallory"})
    import_refused(storage, data, "not one facewatch exported", figures)


def test_a_name_in_the_zip_but_not_in_the_manifest_is_refused(storage, figures):
    body = b"\xff\xd8mallory"
    data = forged_zip(
        {"settings.json": SETTINGS, "../next-door/settings.json": body},
        manifest={"settings.json": entry(SETTINGS)},
    )
    import_refused(storage, data, "not in the manifest", figures)


def test_a_symbolic_link_in_the_zip_is_refused_not_stored_or_followed(storage, figures):
    out = io.BytesIO()
    target = b"/etc/passwd"
    with zipfile.ZipFile(out, "w") as archive:
        link = zipfile.ZipInfo("known/mallory/1.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, target)
        archive.writestr(
            "manifest.json",
            json.dumps({"format": 1, "household": "home", "files": {"known/mallory/1.jpg": entry(target)}}),
        )
    import_refused(storage, out.getvalue(), "symbolic link", figures)


@pytest.mark.parametrize(
    ("lie", "words"),
    [
        ({"sha256": "0" * 64}, "checksum does not match"),
        ({"bytes": 3}, "the manifest says 3"),
        ({"sha256": None}, "checksum does not match"),
    ],
)
def test_a_manifest_that_lies_about_a_file_is_refused(storage, figures, lie, words):
    photo = b"\xff\xd8mallory"
    data = forged_zip(
        {"known/mallory/1.jpg": photo},
        manifest={"known/mallory/1.jpg": {**entry(photo), **lie}},
    )
    import_refused(storage, data, words, figures)


@pytest.mark.parametrize(
    "listed", [{"settings.json": 5}, {"settings.json": {"bytes": 3}}, {"x": {"bytes": "many"}}]
)
def test_a_manifest_that_says_nothing_readable_of_a_file_is_refused_not_a_crash(storage, figures, listed):
    data = forged_zip({"settings.json": SETTINGS}, manifest=listed)
    import_refused(storage, data, "says nothing readable", figures)


def test_a_file_twice_in_the_zip_is_refused(storage, figures):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("settings.json", SETTINGS)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("settings.json", b'{"webhook_url": "http://169.254.169.254/"}')
        archive.writestr(
            "manifest.json",
            json.dumps({"format": 1, "household": "home", "files": {"settings.json": entry(SETTINGS)}}),
        )
    import_refused(storage, out.getvalue(), "more than once", figures)


def test_an_encrypted_file_is_refused_not_a_crash(storage, figures):
    data = patched_flags(forged_zip({"settings.json": SETTINGS}), "settings.json", 0x1)
    import_refused(storage, data, "encrypted", figures)


def test_a_verdict_of_another_household_is_refused(storage, figures):
    theirs = {"frame_key": "households/next-door/frames/gate/20260101/101010000000-aaaaaaaa.jpg"}
    lines = json.dumps(theirs).encode() + b"\n"
    data = forged_zip({"settings.json": SETTINGS, "verdicts.jsonl": lines})
    import_refused(storage, data, "is of household next-door", figures)


# --- import: bombs -----------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_it_is_inflated(storage, figures):
    zeros = bytes(64 << 20)  # 64 MiB deflating to some 64 KiB: a thousand times
    name = "frames/door/20260101/101010000000-aaaaaaaa.jpg"
    data = forged_zip({name: zeros}, compression=zipfile.ZIP_DEFLATED)
    assert len(data) < 1 << 20
    started = time.monotonic()
    import_refused(storage, data, "zip bomb", figures)
    assert time.monotonic() - started < 5  # refused from its header, not inflated and hashed


def test_a_file_over_the_limit_is_refused_from_its_header(storage, figures):
    name = "frames/door/20260101/101010000000-aaaaaaaa.jpg"
    big = MAX_FILE_BYTES + 1
    data = forged_zip({name: b"\xff\xd8"}, manifest={name: {**entry(b"\xff\xd8"), "bytes": big}})
    import_refused(storage, patched_size(data, name, big), "over the limit", figures)


def test_a_manifest_bomb_is_refused(storage, figures):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b'{"format": 1, "files": {}, "pad": "' + b" " * (64 << 20) + b'"}')
    import_refused(storage, out.getvalue(), "zip bomb", figures)


def test_a_header_that_understates_its_file_stops_reading_where_it_says(storage, figures):
    """A bomb whose header claims a small file: nothing past the claimed size is inflated
    (zipfile's own read() would inflate up to 2 GiB in one go), and the rest is refused."""
    name = "frames/door/20260101/101010000000-aaaaaaaa.jpg"
    zeros = bytes(8 << 20)
    said = bytes(1000)
    data = forged_zip({name: zeros}, manifest={name: entry(said)}, compression=zipfile.ZIP_DEFLATED)
    import_refused(storage, patched_size(data, name, len(said)), "damaged in the zip", figures)


# --- import: which household ---------------------------------------------------------------------


def test_replace_without_naming_the_household_is_refused_and_the_zip_cannot_choose_it(
    storage, tmp_path, figures
):
    """A household hands the operator a zip to restore it with --replace; its manifest
    names another household, whose data --replace would have deleted."""
    save_household_settings(storage, "home", HouseholdSettings(retention_days=9))
    zip_path = tmp_path / "smith.zip"
    zip_path.write_bytes(forged_zip({"settings.json": SETTINGS}, household="home"))
    before = snapshot(storage)

    bare = run_cli(storage, "household", "import", str(zip_path), "--replace")
    named = run_cli(storage, "household", "import", str(zip_path), "--replace", "--household", "smith")
    expected = ((bare, "name it with --household"), (named, "an export of household home, not smith"))
    for done, words in expected:
        assert not attacked(figures, done.returncode == 0), done.stdout
        assert done.returncode == 2 and words in done.stderr, done.stderr
    assert snapshot(storage) == before


def test_import_for_the_household_the_zip_names_still_works(storage, figures):
    """The control: the same checks take an honest zip (so the refusals above are theirs)."""
    data = forged_zip({"settings.json": SETTINGS}, household="smith")
    done = import_household(storage, io.BytesIO(data), MAX_PIXELS, expected="smith")
    assert done.household == "smith" and storage.exists(household_prefix("smith") + "settings.json")


# --- the console's export and erase -----------------------------------------------------------------


def face_session(site: Site) -> requests.Session:
    """A session opened by an alert's link: one face of household home."""
    face = site.strangers()[0].recent[-1].verdict_id
    token = sign_in_link(SECRET, "home", now=datetime.now(UTC), ttl=timedelta(minutes=5), face=face)
    http = requests.Session()
    reply = http.post(f"{site.url}signin", data={"token": token}, allow_redirects=False)
    assert reply.status_code == 303, reply.text
    return http


def test_a_session_exports_its_own_household_only_whatever_it_asks(site: Site, figures):
    http = sign_in(site)
    for params in ({"household": "next-door"}, {"h": "next-door"}, {"household": "../next-door"}):
        reply = http.get(f"{site.url}settings/export", params=params)
        assert reply.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(reply.content))
        household = json.loads(archive.read("manifest.json"))["household"]
        theirs = b"next-door" in archive.read("verdicts.jsonl") or household != "home"
        assert not attacked(figures, theirs), params


def test_export_and_erase_need_a_whole_console_session(site: Site, figures):
    limited = face_session(site)
    before = site.objects()
    stranger = requests.Session()
    reply = stranger.get(f"{site.url}settings/export")
    assert not attacked(figures, reply.status_code == 200)
    refused(reply, 401, "sign")
    reply = limited.get(f"{site.url}settings/export")
    assert not attacked(figures, reply.status_code == 200)
    refused(reply, 403, "one face only")
    reply = limited.post(f"{site.url}settings/erase", data={"confirm": "home"}, allow_redirects=False)
    assert not attacked(figures, reply.status_code == 303)
    refused(reply, 403, "one face only")
    assert site.objects() == before


def test_erase_is_refused_without_the_households_own_id_or_its_own_csrf_token(site: Site, figures):
    home, theirs = sign_in(site), sign_in(site, "next-door")
    token, their_token = csrf(home, site, "settings"), csrf(theirs, site, "settings")
    before = site.objects()
    attempts = [
        ({"csrf": token, "confirm": "HOME"}, 400, "type the household id"),
        ({"csrf": token, "confirm": ""}, 400, "type the household id"),
        ({"csrf": token}, 400, "type the household id"),
        ({"csrf": token, "confirm": "home\x00"}, 400, "type the household id"),
        ({"csrf": their_token, "confirm": "home"}, 403, "CSRF"),  # another session's token
        ({"csrf": token_of(site.link()), "confirm": "home"}, 403, "CSRF"),  # a sign-in token
    ]
    for form, status, words in attempts:
        reply = home.post(f"{site.url}settings/erase", data=form, allow_redirects=False)
        assert not attacked(figures, reply.status_code == 303), form
        refused(reply, status, words)
    # next-door's session erasing home: it can only name its own household
    reply = theirs.post(
        f"{site.url}settings/erase", data={"csrf": their_token, "confirm": "home"}, allow_redirects=False
    )
    assert not attacked(figures, reply.status_code == 303)
    refused(reply, 400, "type the household id (next-door)")
    assert site.objects() == before


def test_erase_from_another_site_is_refused_before_the_form_is_read(site: Site, figures):
    http = sign_in(site)
    token = csrf(http, site, "settings")
    before = site.objects()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        reply = http.post(
            f"{site.url}settings/erase",
            data={"csrf": token, "confirm": "home"},
            headers=headers,
            allow_redirects=False,
        )
        assert not attacked(figures, reply.status_code == 303), headers
        refused(reply, 403, "another site")
    assert site.objects() == before


def test_the_cli_erases_only_with_the_id_typed_exactly(storage, figures):
    save_household_settings(storage, "home", HouseholdSettings(retention_days=9))
    before = snapshot(storage)
    for typed in ("HOME", "next-door"):  # the rest of "exactly": the console's test above
        done = run_cli(storage, "household", "erase", "--household", "home", "--yes", typed)
        assert not attacked(figures, done.returncode == 0), typed
        assert done.returncode == 2 and "nothing erased" in done.stderr, done.stderr
    assert snapshot(storage) == before


@pytest.mark.parametrize(
    "lie",
    [
        {"metadata": {"boxes": "1,2,3,4\r\nx-amz-acl: public-read"}},
        {"metadata": {"bad key": "x"}},
        {"metadata": {"boxes": "é" * 10}},
        {"metadata": {"boxes": "1" * 3000}},
        {"content_type": "image/jpeg\r\nx-amz-acl: public-read"},
    ],
)
def test_a_manifest_whose_headers_s3_would_refuse_is_refused_before_anything_is_written(
    storage, figures, lie
):
    """Metadata and content types go out as HTTP headers: one S3 (or the HTTP client)
    refuses would stop the import half-way, after the settings and known photos."""
    frame = "frames/door/20260101/101010000000-aaaaaaaa.jpg"
    body = b"\xff\xd8frame"
    data = forged_zip(
        {"settings.json": SETTINGS, frame: body},
        manifest={"settings.json": entry(SETTINGS), frame: {**entry(body), **lie}},
    )
    import_refused(storage, data, frame, figures)


@pytest.mark.parametrize(
    "name",
    [
        "sessions/1796597332-x.json",
        "links/used/abc.json",
        "alerts/claims/a.json",
        "report/index.html",
        "encodings.npz",
    ],
)
def test_a_file_an_export_never_holds_is_refused(storage, figures, name):
    """What only works here (sessions, used links, sends in progress) or is made here (the
    report page, the known encodings) is never exported; a zip holding one was made by
    someone else, to plant it."""
    data = forged_zip({"settings.json": SETTINGS, name: b"{}"})
    import_refused(storage, data, "never holds", figures)


@pytest.mark.parametrize(
    "settings",
    [b"not json", b"[]", b'{"armed": "sometimes"}', b'{"webhook_url": 5}', b'{"retention_days": -1}'],
)
def test_settings_that_do_not_parse_are_refused_not_imported_to_stop_the_households_alerts(
    storage, figures, settings
):
    data = forged_zip({"settings.json": settings})
    import_refused(storage, data, "settings.json is invalid", figures)


def test_export_and_erase_of_a_household_take_nothing_of_one_whose_id_starts_alike(storage, figures):
    """Households are folders: "home" is households/home/, never households/homer/."""
    from facewatch.config import Settings
    from facewatch.tenant.erase import erase_household
    from facewatch.tenant.export import export_household

    for household in ("home", "homer", "home-2"):
        save_household_settings(storage, household, HouseholdSettings(retention_days=9))
        storage.put(
            f"{household_prefix(household)}frames/door/20260101/101010000000-aaaaaaaa.jpg", b"\xff\xd8"
        )
    out = io.BytesIO()
    export_household(storage, "home", out)
    took = zipfile.ZipFile(out).namelist()
    assert not attacked(figures, len(took) != 4), took  # settings, the frame, verdicts, manifest
    erase_household(storage, Settings(), "home")
    left = set(storage.list_keys("households/"))
    assert not attacked(figures, len(left) != 4), left
    assert not any(k.startswith(household_prefix("home")) for k in left)
