"""The away switch on the console's settings page, against the real console process: the
toggle disarms and arms the household (in a real browser), and a form without its CSRF
token or with a value other than on/off changes nothing."""

from __future__ import annotations

import pytest
import requests

from facewatch.household.settings import load_household_settings
from tests.console_site import csrf, refused, sign_in, signed_in

pytestmark = pytest.mark.integration


def test_the_settings_page_toggles_the_away_switch(page, site):
    signed_in(page, site, "/settings")
    assert "armed" in page.locator("#armed-state").inner_text()
    page.click("#armed-form button")
    page.wait_for_selector(".flash")
    assert "Disarmed" in page.locator(".flash").inner_text()
    assert load_household_settings(site.storage, "home").armed is False
    assert "disarmed" in page.locator("#armed-state").inner_text()
    page.click("#armed-form button")
    page.wait_for_selector(".flash")
    assert load_household_settings(site.storage, "home").armed is True


def test_the_away_switch_form_refuses_a_bad_value_and_a_missing_csrf_token(site):
    http = sign_in(site)
    token = csrf(http, site, "settings")
    before = site.objects()
    url = f"{site.url}settings/armed"
    refused(http.post(url, data={"armed": "off"}, allow_redirects=False), 403, "CSRF")
    refused(requests.post(url, data={"armed": "off", "csrf": token}, allow_redirects=False), 401, "sign")
    refused(http.post(url, data={"armed": "maybe", "csrf": token}, allow_redirects=False), 400, "on or off")
    assert site.objects() == before
    assert load_household_settings(site.storage, "home").armed is True
