"""`facewatch household export | import | erase` and `facewatch retention` as a user runs
them (a process, against the test's S3 bucket): what each prints, and each refusal with
exit status 2 and nothing changed."""

from __future__ import annotations

import json
import zipfile

import pytest

from facewatch.household.settings import HouseholdSettings, load_household_settings, save_household_settings
from facewatch.layout import household_prefix
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_export_erase_import_and_their_refusals(storage, tmp_path):
    save_household_settings(storage, "home", HouseholdSettings(retention_days=9))
    storage.put(f"{household_prefix('home')}frames/door/20260101/101010000000-aaaaaaaa.jpg", b"jpeg")
    out = tmp_path / "home.zip"

    assert run_cli(storage, "household", "export", "--household", "nobody", "--out", str(out)).returncode == 2
    assert not out.exists()
    done = run_cli(storage, "household", "export", "--household", "home", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "exported household home: 3 file(s)" in done.stdout  # settings, the frame, verdicts.jsonl
    assert json.loads(zipfile.ZipFile(out).read("manifest.json"))["household"] == "home"

    before = sorted(storage.list_keys(""))
    refused = run_cli(storage, "household", "erase", "--household", "home", "--yes", "hom")
    assert refused.returncode == 2 and "nothing erased" in refused.stderr
    assert sorted(storage.list_keys("")) == before

    again = run_cli(storage, "household", "import", str(out))
    assert again.returncode == 2 and "already has data" in again.stderr
    erased = run_cli(storage, "household", "erase", "--household", "home", "--yes", "home")
    assert erased.returncode == 0, erased.stderr
    assert "2 object(s) deleted, 0 retained MQTT topic(s) cleared, 0 left" in erased.stdout
    assert list(storage.list_keys(household_prefix("home"))) == []

    imported = run_cli(storage, "household", "import", str(out))
    assert imported.returncode == 0, imported.stderr
    assert load_household_settings(storage, "home").retention_days == 9

    swept = run_cli(storage, "retention", "--household", "home", "--now", "2026-03-01T00:00:00+00:00")
    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout) == [{"household": "home", "deleted": 1, "kept_marked": 0}]
    assert run_cli(storage, "retention", "--now", "yesterday").returncode == 2
