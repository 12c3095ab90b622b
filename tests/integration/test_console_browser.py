"""The household console in a real headless Chromium (Playwright), against a real console
process on a real S3 server, with a household that saw a street scene: sign in by link, see
the faces, name a stranger (their next visit is silent, their past faces say who they are),
merge, split, silence and forget strangers, add and remove photos, rename and remove
people, correct a face both ways, look at the cameras, change the settings. Every page is
watched for console errors, uncaught exceptions and failed requests (tests/browser.py)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import pytest

from facewatch.household.settings import change_household_settings, load_household_settings
from facewatch.recognize.known import load_gallery
from tests.conftest import TESTDATA
from tests.console_site import SECRET, signed_in
from tests.street import FIRST_WALK, Collected, walk_by

pytestmark = pytest.mark.integration


def images_ok(page) -> None:
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)"
    )
    assert broken == []


def note(page) -> str:
    return page.locator(".flash").inner_text()


def test_a_link_signs_in_and_the_faces_page_shows_the_household_newest_first(page, site):
    signed_in(page, site, "/faces")
    assert page.url.endswith("/faces")
    figures = page.locator("#faces figure")
    assert figures.count() >= 10
    images_ok(page)
    text = page.locator("#faces").inner_text()
    assert "biden" in text and "stranger-" in text and "street" in text
    ids = page.eval_on_selector_all("#faces figure", "fs => fs.map(f => f.dataset.verdictId)")
    # newest first: the frame names in verdict ids are capture times
    frames = [i.split("/")[3].split("#")[0] for i in ids]
    assert frames == sorted(frames, reverse=True)
    cookie = next(c for c in page.context.cookies() if c["name"] == "facewatch_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_the_faces_page_filters_by_verdict_camera_person_and_date(page, site):
    signed_in(page, site, "/faces")
    page.select_option("select[name=verdict]", "known")
    page.click("#filters button")
    page.wait_for_url(re.compile("verdict=known"))
    captions = page.locator("#faces figcaption").all_inner_texts()
    assert captions and all("biden" in c for c in captions)
    page.fill("input[name=person]", "nobody-by-that-name")
    page.click("#filters button")
    page.wait_for_selector("#no-faces")
    today = datetime.now(UTC).date().isoformat()
    page.goto(f"{site.url}faces?camera=street&date={today}&verdict=stranger")
    assert page.locator("#faces figure.stranger").count() >= 3
    page.goto(f"{site.url}faces?date=2001-01-01")
    page.wait_for_selector("#no-faces")


def test_the_faces_list_refreshes_itself(page, site):
    signed_in(page, site, "/faces")
    before = page.locator("#faces figure").count()
    walk_by(site.storage, Collected(), FIRST_WALK[:1], datetime.now(UTC))
    # Polled from here: the page's CSP allows no script but its own, not even a test's.
    deadline = time.monotonic() + 40
    while page.locator("#faces figure").count() <= before:
        assert time.monotonic() < deadline, "the faces list did not refresh"
        page.wait_for_timeout(500)


def test_naming_a_stranger_relabels_their_past_faces_and_silences_their_next_visit(page, site):
    first = site.strangers()
    signed_in(page, site, "/strangers")
    images_ok(page)
    target = min(first, key=lambda s: s.first_seen)  # Alex walks first
    past = [s.verdict_id for s in target.recent]
    card = page.locator(f"section#{target.stranger_id}")
    card.locator("input[name=name]").fill("alex")
    card.locator("button[type=submit]").click()
    page.wait_for_url(re.compile("/strangers$"))
    said = note(page)
    assert f"{target.stranger_id} is now alex" in said and "Looked again" in said
    assert page.locator(f"section#{target.stranger_id}").count() == 0
    assert "alex" in load_gallery(site.storage, "home")[0].people
    # the past: each of their faces now says alex, and what it was
    relabelled = [site.result(v) for v in past]
    faces = [f for r in relabelled for f in r["faces"] if f.get("verdict_id") in past]
    assert faces and all(f["verdict"] == "known" and f["name"] == "alex" for f in faces)
    assert all(f["looked_again"]["was"]["verdict"] == "stranger" for f in faces)
    page.goto(f"{site.url}face?id={quote(past[0], safe='')}")
    assert "alex" in page.locator("#verdict").inner_text()
    assert target.stranger_id in page.locator("#looked-again").inner_text()
    # the next visit: judged known, and nothing is sent
    collected = Collected()
    walker = next(w for w in FIRST_WALK if w.photo.startswith("alex"))
    again = walk_by(site.storage, collected, [walker], datetime.now(UTC))
    assert again and all(f.name == "alex" for r in again for f in r.faces)
    assert collected.alerts == []


def test_a_face_judged_a_stranger_can_be_named_from_its_page_and_a_known_face_corrected(page, site):
    row = next(s for s in site.strangers())
    verdict_id = row.recent[-1].verdict_id
    # a console link (a link to a face alone is an alert's: it reaches that face only)
    signed_in(page, site)
    page.goto(f"{site.url}face?id={quote(verdict_id, safe='')}")
    images_ok(page)
    page.fill("#is-form input[name=name]", "rose")
    page.click("#is-form button")
    page.wait_for_selector(".flash")
    assert "rose is now known" in note(page)
    assert "rose" in load_gallery(site.storage, "home")[0].people
    # "this is not biden" on one of biden's faces
    page.goto(f"{site.url}faces?verdict=known&person=biden")
    page.locator("#faces figure a").first.click()
    page.wait_for_selector("#not-form")
    biden_face = page.url
    page.click("#not-form button")
    page.wait_for_selector(".flash")
    assert "not biden" in note(page)
    assert unquote(page.url) == unquote(biden_face)
    assert any(k.endswith("negatives.npz") for k in site.storage.list_keys("households/home/"))


def test_two_strangers_merge_into_one_and_a_wrong_face_splits_out(page, site):
    first, second = site.strangers()[:2]
    # the household asked for no alerts from the second: that holds for the merged person
    change_household_settings(
        site.storage, "home", lambda s: s.model_copy(update={"no_alerts": [second.stranger_id]})
    )
    signed_in(page, site, f"/stranger?id={first.stranger_id}")
    page.select_option("#merge-form select", second.stranger_id)
    page.click("#merge-form button")
    page.wait_for_selector(".flash")
    assert f"{second.stranger_id} merged into {first.stranger_id}" in note(page)
    ids = {s.stranger_id for s in site.strangers()}
    assert second.stranger_id not in ids and first.stranger_id in ids
    merged = next(s for s in site.strangers() if s.stranger_id == first.stranger_id)
    assert merged.visits == first.visits + second.visits
    assert load_household_settings(site.storage, "home").no_alerts == [first.stranger_id]
    # split one of the faces back out
    moved = second.recent[-1].verdict_id
    page.locator(f"figure[data-verdict-id='{moved}'] form.split button").click()
    page.wait_for_selector(".flash")
    assert "apart from" in note(page)
    after = {s.stranger_id: s for s in site.strangers()}
    assert len(after) == len(ids) + 1
    owner = next(s for s in after.values() if moved in [r.verdict_id for r in s.recent])
    assert owner.stranger_id != first.stranger_id
    face = next(f for f in site.result(moved)["faces"] if f.get("verdict_id") == moved)
    assert face["stranger_id"] == owner.stranger_id


def test_a_stranger_marked_no_alerts_is_on_the_list_and_can_be_forgotten(page, site):
    target = site.strangers()[0]
    signed_in(page, site, f"/stranger?id={target.stranger_id}")
    page.click("#silence-form button")
    page.wait_for_selector(".flash")
    assert "raises no alerts" in note(page)
    assert target.stranger_id in load_household_settings(site.storage, "home").no_alerts
    page.click("#silence-form button")  # and back
    page.wait_for_selector(".flash")
    assert target.stranger_id not in load_household_settings(site.storage, "home").no_alerts
    page.click("#forget-form button")
    page.wait_for_url(re.compile("/strangers$"))
    assert target.stranger_id not in {s.stranger_id for s in site.strangers()}
    assert list(site.storage.list_keys(f"households/home/strangers/{target.stranger_id}/")) == []


def test_people_photos_are_added_from_the_browser_removed_renamed_and_people_removed(page, site):
    signed_in(page, site, "/people")
    images_ok(page)
    assert page.locator("section.person").count() == 2
    photo = TESTDATA / "passers-by" / "kit-harington.jpeg"
    page.fill("#add-form input[name=name]", "kit")
    page.set_input_files("#add-form input[type=file]", str(photo))
    page.click("#add-form button")
    page.wait_for_selector(".flash")
    assert "1 photo(s) of kit added" in note(page) and "Looked again" in note(page)
    assert "kit" in load_gallery(site.storage, "home")[0].people
    kit = page.locator("section.person[data-name=kit]")
    kit.locator("input[name=new_name]").fill("kit-h")
    kit.locator("form[action='/people/rename'] button").click()
    page.wait_for_selector(".flash")
    assert load_gallery(site.storage, "home")[0].people == ["biden", "kit-h", "obama"]
    obama = page.locator("section.person[data-name=obama]")
    photos = obama.locator("figure").count()
    obama.locator("figure form button").first.click()
    page.wait_for_selector(".flash")
    assert page.locator("section.person[data-name=obama] figure").count() == photos - 1
    page.locator("section.person[data-name=kit-h] form[action='/people/remove'] button").click()
    page.wait_for_selector(".flash")
    assert load_gallery(site.storage, "home")[0].people == ["biden", "obama"]


def test_an_upload_that_is_not_a_photo_is_refused_with_a_clear_page(page, site, tmp_path):
    signed_in(page, site, "/people")
    before = site.objects()
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture")
    page.expect_status(400, "/people/add")
    page.fill("#add-form input[name=name]", "someone")
    page.set_input_files("#add-form input[type=file]", str(fake))
    page.click("#add-form button")
    page.wait_for_selector("#message")
    assert "Nothing was changed" in page.content()
    assert site.objects() == before


def test_each_photo_enrollment_refuses_is_refused_on_the_people_page_saying_what_to_take(
    page, site, tmp_path
):
    from tests.bad_photos import REFUSED

    says = {
        "too-blurred": "sharper photo, in daylight",
        "too-small": "at least 40px wide",
        "several-faces": "2 faces (",
        "no-face": "no face found",
    }
    signed_in(page, site, "/people")
    before = site.objects()
    page.expect_status(400, "/people/add")
    for kind, make in REFUSED.items():
        photo = tmp_path / f"{kind}.jpg"
        photo.write_bytes(make())
        page.goto(f"{site.url.rstrip('/')}/people")
        page.fill("#add-form input[name=name]", "someone")
        page.set_input_files("#add-form input[type=file]", str(photo))
        page.click("#add-form button")
        page.wait_for_selector("#message")
        message = page.locator("#message").inner_text()
        assert f"{kind}.jpg: " in message and says[kind] in message, message
    assert site.objects() == before


def test_the_cameras_page_counts_today(page, site):
    signed_in(page, site, "/cameras")
    row = page.locator("tr[data-camera=street] td").all_inner_texts()
    assert row[0] == "street" and row[1] != "never"
    assert int(row[2]) >= 10 and int(row[4]) >= 1


def test_the_settings_page_saves_the_households_choices(page, site):
    signed_in(page, site, "/settings")
    page.fill("input[name=mail_to]", "a@example.test, b@example.test")
    page.fill("input[name=timezone]", "Europe/Berlin")
    page.check("input[name=channel_webhook]")
    page.fill("input[name=webhook_url]", "https://hooks.example.test/door")
    page.fill("input[name=visit_window_minutes]", "10")
    page.fill("input[name=cooldown_minutes]", "45")
    page.check("input[name=presence]")
    page.fill("input[name=presence_away_minutes]", "20")
    page.click("#settings-form button")
    page.wait_for_selector(".flash")
    own = load_household_settings(site.storage, "home")
    assert own.presence and own.presence_away_after_minutes == 20
    assert own.mail_to == ["a@example.test", "b@example.test"] and own.timezone == "Europe/Berlin"
    assert own.channels == ["email", "webhook"] and own.webhook_url == "https://hooks.example.test/door"
    assert (own.visit_window_seconds, own.alert_cooldown_seconds) == (600, 2700)
    assert page.input_value("input[name=visit_window_minutes]") == "10"
    page.expect_status(400, "/settings")
    page.fill("input[name=timezone]", "Mars/Olympus")
    page.click("#settings-form button")
    page.wait_for_selector("#message")
    assert "IANA" in page.locator("#message").inner_text()
    assert load_household_settings(site.storage, "home").timezone == "Europe/Berlin"


def test_signing_out_ends_the_session(page, site):
    signed_in(page, site)
    page.click("nav form button")
    page.wait_for_url(re.compile("/signedout$"))
    page.expect_status(401)
    page.goto(f"{site.url}faces")
    assert "not signed in" in page.locator("#message").inner_text()
    assert list(site.storage.list_keys("households/home/sessions/")) == []


def test_signing_out_everywhere_ends_every_session_of_the_household(new_page, site):
    here, there, next_door = new_page(), new_page(), new_page()
    signed_in(here, site, "/settings")
    signed_in(there, site)
    next_door.set_default_timeout(90_000)
    next_door.goto(site.link("next-door"))
    next_door.click("#signin button")
    next_door.wait_for_url(re.compile("/visits$"))
    here.click("#signout-everywhere-form button")
    here.wait_for_url(re.compile("/signedout$"))
    for page, said in ((here, "not signed in"), (there, "was signed out")):
        page.expect_status(401)
        page.goto(f"{site.url}faces")
        assert said in page.locator("#message").inner_text()
    next_door.reload()  # another household's sessions go on
    assert "next-door" in next_door.locator("nav").inner_text()


def test_an_alerts_link_opens_that_face_and_names_it_but_nothing_else(page, site):
    from datetime import UTC, datetime

    from facewatch.alerts.links import alert_links
    from facewatch.config import Settings
    from facewatch.records import Alert, FaceVerdict
    from facewatch.web.console.views import one_face

    face = site.strangers()[0].recent[-1]
    row = one_face(site.storage, "home", face.verdict_id)
    alert = Alert.model_validate(
        {
            "alert_id": "a1",
            "household": "home",
            "camera": "street",
            "bucket": site.storage.bucket,
            "frame_key": row.frame_key,
            "captured_at": datetime.now(UTC),
            "faces_in_frame": 1,
            "strangers": [FaceVerdict(box=row.box, verdict="stranger", verdict_id=face.verdict_id)],
        }
    )
    settings = Settings(_env_file=None, bucket=site.storage.bucket, link_secret=SECRET, console_url=site.url)  # type: ignore[call-arg]
    link = alert_links(alert, site.storage, settings, datetime.now(UTC)).console_url
    assert link is not None
    page.set_default_timeout(90_000)
    page.goto(link)
    page.click("#signin button")
    page.wait_for_url(re.compile(r"/visit\?id="))  # the link lands on the visit
    images_ok(page)
    assert page.locator("#visit-faces figure").count() >= 1
    assert "this face only" in page.locator("#face-only").inner_text()
    assert page.locator("nav a").count() == 0  # no way to the rest of the console
    page.fill("#is-form input[name=name]", "rose")
    page.click("#is-form button")
    page.wait_for_selector(".flash")
    assert "rose is now known" in note(page)
    page.expect_status(403)
    page.goto(f"{site.url}faces")
    assert "console link" in page.locator("#message").inner_text()


def test_look_again_relabels_the_past_faces_of_someone_enrolled_elsewhere(page, site):
    from facewatch.recognize.people import add_photos

    kit = max(site.strangers(), key=lambda s: s.first_seen)  # Kit walks last
    photo = TESTDATA / "passers-by" / "kit-harington.jpeg"
    add_photos(site.storage, "home", "kit", [(photo.name, photo.read_bytes())], 40_000_000, 20 << 20)
    signed_in(page, site, "/faces")
    page.click("#look-again-form button")
    page.wait_for_selector(".flash")
    said = note(page)
    assert "Looked again at" in said and "0 now known" not in said
    page.goto(f"{site.url}faces?person=kit")
    captions = page.locator("#faces figcaption").all_inner_texts()
    assert captions and all(f"was {kit.stranger_id}" in c for c in captions)
    # nothing is due any more: a second press looks at nothing new
    page.click("#look-again-form button")
    page.wait_for_selector(".flash")
    assert "Looked again at 0 face(s)" in note(page)


def test_the_visits_page_shows_one_card_per_visit_and_naming_from_a_card_relabels_it(page, site):
    signed_in(page, site)
    assert page.url.endswith("/visits")
    images_ok(page)
    cards = page.locator("#visits li.visit.stranger")
    assert cards.count() == len(site.strangers())  # each passer-by came once
    who = cards.first.get_attribute("data-who")
    faces = int(cards.first.locator(".count").inner_text().split()[0])
    cards.first.locator("a").click()
    page.wait_for_selector("#visit-faces figure")
    page.wait_for_load_state("load")
    images_ok(page)
    assert page.locator("#visit-faces figure").count() == faces
    page.fill("#is-form input[name=name]", "rose")
    page.click("#is-form button")
    page.wait_for_selector(".flash")
    assert "rose is now known" in note(page)
    assert page.locator("#who").inner_text() == "rose"  # the same visit, relabelled
    page.goto(f"{site.url}visits")
    assert page.locator("#visits li.visit[data-who='rose']").count() == 1
    assert page.locator(f"#visits li.visit[data-who='{who}']").count() == 0
    page.goto(f"{site.url}person?who=rose")
    assert page.locator("#person-days tbody tr").count() == 1
    assert page.locator("#last-seen").inner_text() != "never"
