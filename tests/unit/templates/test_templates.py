"""The templates every page comes from: autoescaped, strict about what they are given, and
self-contained (the one stylesheet inline); the feedback pages show names as text."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import jinja2
import pytest

from facewatch import templates

EVIL = "<script>alert(1)</script>"


def test_a_value_is_escaped_and_a_missing_one_is_an_error():
    naming = SimpleNamespace(stranger=None, learned=1, warnings=())
    again = SimpleNamespace(checked=3, now_known=1)
    page = templates.render("feedback_done.html", name=EVIL, naming=naming, again=again)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; is now known." in page
    assert "Looked again at 3 face(s) of the last 7 days: 1 now known." in page
    with pytest.raises(jinja2.UndefinedError):
        templates.render("feedback_done.html", naming=naming, again=again)


def test_every_page_is_one_file_with_the_stylesheet_inline():
    page = templates.render("feedback_used.html", used=None)
    assert page.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert f"<style>{templates.stylesheet()}</style>" in page
    assert '<link rel="stylesheet"' not in page and "<script" not in page
    for css_class in (".grid", "figcaption", ".stranger", ".known", ".unsure", ".card", ".muted", "nav",
                      "table", "form.inline", "button", ".flash", ".error"):  # fmt: skip
        assert css_class in templates.stylesheet()


def test_the_feedback_form_keeps_its_token_inside_the_attribute():
    token = "abc'\"><script>x</script>"
    page = templates.render("feedback_form.html", household=f"h{EVIL}", token=token, refused=None)
    assert "<script" not in page
    assert 'value="abc&#39;&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in page
    assert "household h&lt;script&gt;" in page


def test_the_already_used_page_says_by_whom_when_it_knows():
    page = templates.render("feedback_used.html", used={"name": "Lin", "on": "2026-11-25"})
    assert "already used to add Lin on 2026-11-25." in page
    assert "already used. Each link" in templates.render("feedback_used.html", used=None)


def test_times_are_shown_in_the_households_zone_and_a_wrong_zone_is_utc():
    at = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert templates.localtime(at, "Europe/Berlin") == "2026-11-25 15:00:00"
    assert templates.localtime(at, "Not/AZone") == "2026-11-25 14:00:00"
    assert templates.localtime(at.replace(tzinfo=None), "UTC", "%H:%M") == "14:00"


def test_a_picture_becomes_a_data_uri():
    assert templates.data_uri(b"\xff\xd8") == "data:image/jpeg;base64,/9g="
    assert templates.data_uri(b"x", "image/png") == "data:image/png;base64,eA=="


def test_the_feedback_pages_say_a_refusal_and_a_warning_escaped():
    from facewatch.recognize.photo_gates import Caution, PhotoWarning, Refusal, Refused

    refused = Refused(Refusal.TOO_SMALL, f"too small {EVIL}")
    page = templates.render("feedback_form.html", household="h", token="t", refused=refused)
    assert 'data-kind="too-small"' in page and "<script" not in page and "this link still works" in page
    plain = templates.render("feedback_form.html", household="h", token="t", refused=None)
    assert 'id="refused"' not in plain
    warning = PhotoWarning(Caution.TURNED, f"turned {EVIL}")
    naming = SimpleNamespace(stranger=None, learned=1, warnings=(warning,))
    again = SimpleNamespace(checked=0, now_known=0)
    done = templates.render("feedback_done.html", name="Lin", naming=naming, again=again)
    assert 'data-kind="turned"' in done and "Added, but: turned &lt;script&gt;" in done
