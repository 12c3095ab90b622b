"""The console's settings for the household's data, over HTTP against the real console
process: "download everything" is the household's export and only its own; erasure needs
the CSRF token and the household id typed again, deletes every object of the household
(and no other's), and ends the session; the retention days are saved with the settings."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from facewatch.household.settings import load_household_settings
from facewatch.layout import household_prefix
from tests.console_site import Site, csrf, refused, sign_in

pytestmark = pytest.mark.integration


def test_download_everything_is_the_households_export_and_only_its_own(site: Site):
    http = sign_in(site)
    reply = http.get(f"{site.url}settings/export")
    assert reply.status_code == 200, reply.text[:300]
    assert reply.headers["Content-Type"] == "application/zip"
    assert "attachment" in reply.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["household"] == "home"
    verdicts = [json.loads(line) for line in archive.read("verdicts.jsonl").splitlines()]
    assert verdicts and {v["household"] for v in verdicts} == {"home"}
    assert any(n.startswith("known/obama/") for n in archive.namelist())


def test_erase_needs_the_household_id_typed_again_and_then_ends_the_session(site: Site):
    http = sign_in(site)
    token = csrf(http, site, "settings")
    before = site.objects()
    for form in (
        {"csrf": token, "confirm": "hom"},
        {"csrf": token, "confirm": "next-door"},
        {"confirm": "home"},
    ):
        reply = http.post(f"{site.url}settings/erase", data=form, allow_redirects=False)
        assert reply.status_code in (400, 403), (form, reply.status_code)
    assert site.objects() == before  # refused: nothing erased

    reply = http.post(
        f"{site.url}settings/erase", data={"csrf": token, "confirm": "home"}, allow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["Location"] == "/signedout"
    left = site.objects()
    assert not [k for k in left if k.startswith(household_prefix("home"))]
    assert {k for k in before if k.startswith(household_prefix("next-door"))} <= set(left)
    refused(http.get(f"{site.url}faces"), 401, "sign")


def test_retention_days_are_saved_with_the_settings(site: Site):
    http = sign_in(site)
    form = {"csrf": csrf(http, site, "settings"), "channel_email": "on", "retention_days": "7"}
    assert http.post(f"{site.url}settings", data=form, allow_redirects=False).status_code == 303
    assert load_household_settings(site.storage, "home").retention_days == 7
    form["retention_days"] = "0"
    http.post(f"{site.url}settings", data=form, allow_redirects=False)
    assert load_household_settings(site.storage, "home").retention_days == 7
