"""Smoke journeys in a real browser: every page of the menu, for a crisis-cell member and
for an establishment administrator (with two-factor enrolment), on a desktop screen and
on a phone, without a script error or a Content-Security-Policy violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from planblanc.core.demo import DEMO_PASSWORD
from tests.browser.support import PHONE, Watched, fr, totp_code

pytestmark = pytest.mark.browser

LOGIN_PATH = "/compte/connexion/"
# Menu entries (message ids; pages are in French by default). Each page's heading is
# its menu label; an entry added later is visited too and must at least have a heading.
EVERYONE = ["Dashboard", "Establishments", "People"]
ADMIN_ONLY = ["Import / export", "Access", "Audit log"]


def log_in(watched: Watched, username: str) -> None:
    page = watched.page
    watched.goto(LOGIN_PATH)
    expect(watched.heading()).to_have_text(fr("Log in"))
    watched.assert_clean("the login page")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    watched.settle()


def enrol_two_factor(watched: Watched) -> None:
    """First login of an administrator: scan (here: read) the secret, type the code."""
    page = watched.page
    expect(watched.heading()).to_have_text(fr("Two-factor authentication"))
    watched.assert_clean("the two-factor enrolment page")
    secret = page.get_by_test_id("totp-secret").inner_text()
    assert len(secret.replace(" ", "")) >= 16, secret
    page.fill("input[name=code]", totp_code(secret))
    page.locator("main form button[type=submit]").click()
    watched.settle()
    assert page.url.rstrip("/") == watched.base_url, page.url
    expect(watched.heading()).to_have_text(fr("Dashboard"))
    watched.assert_clean("the dashboard after two-factor")


def menu(watched: Watched) -> Any:
    return watched.page.locator("#pb-nav")


def menu_links(watched: Watched) -> Any:
    return menu(watched).locator(".navbar-nav.me-auto .nav-link")


def menu_labels(watched: Watched, *, present: list[str], absent: list[str]) -> list[str]:
    labels = [text.strip() for text in menu_links(watched).all_text_contents()]
    for label in present:
        assert fr(label) in labels, f"{fr(label)!r} missing from the menu {labels}"
    for label in absent:
        assert fr(label) not in labels, f"{fr(label)!r} should not be in the menu {labels}"
    return labels


def follow(watched: Watched, link: Any) -> None:
    href = link.get_attribute("href")
    link.click()
    watched.page.wait_for_url(f"**{href}")
    watched.settle()


def open_menu_page(watched: Watched, label: str) -> None:
    """label: as shown (French)."""
    follow(watched, menu(watched).locator(".navbar-nav.me-auto").get_by_role("link", name=label, exact=True))
    if label in {fr(known) for known in EVERYONE + ADMIN_ONLY}:
        expect(watched.heading()).to_have_text(label)
    else:
        expect(watched.heading()).not_to_be_empty()
    watched.assert_clean(label)


def open_api_tokens(watched: Watched) -> None:
    menu(watched).locator(".dropdown-toggle").click()
    follow(watched, menu(watched).get_by_role("link", name=fr("API tokens"), exact=True))
    expect(watched.heading()).to_have_text(fr("API tokens"))
    watched.assert_clean("API tokens")


def open_establishment(watched: Watched) -> None:
    """From the establishment list."""
    follow(watched, watched.page.locator("main table").get_by_role("link", name="CHU de Belleval"))
    expect(watched.heading()).to_have_text("CHU de Belleval")
    watched.assert_clean("an establishment")


def open_person(watched: Watched) -> None:
    """From the people list."""
    first = watched.page.locator("main table tbody a[href*='/personnes/']").first
    name = first.inner_text()
    follow(watched, first)
    expect(watched.heading()).to_contain_text(name)
    watched.assert_clean("a person")


def visit_menu(watched: Watched, labels: list[str]) -> None:
    # On a desktop screen the whole menu holds on one line, without hiding anything.
    nav = watched.page.evaluate(
        "(() => { const n = document.querySelector('nav.navbar .container-fluid') || document.querySelector('nav.navbar');"
        " return [n.scrollWidth, n.clientWidth]; })()"
    )
    assert nav[0] <= nav[1] + 1, f"the menu overflows on a desktop screen: {nav[0]}px > {nav[1]}px"
    for label in labels:
        open_menu_page(watched, label)
        if label == fr("Establishments"):
            open_establishment(watched)
        elif label == fr("People"):
            open_person(watched)
    open_api_tokens(watched)


def test_it_shows_every_page_to_a_crisis_cell_member(site: str, browse: Any) -> None:
    watched = browse(site)
    log_in(watched, "cellule.chu")
    assert watched.page.url.rstrip("/") == site, "no two-factor step for a crisis-cell member"
    expect(watched.heading()).to_have_text(fr("Dashboard"))
    watched.assert_clean("the dashboard")
    visit_menu(watched, menu_labels(watched, present=EVERYONE, absent=ADMIN_ONLY))


def test_it_enrols_an_administrator_and_shows_every_page(site: str, browse: Any) -> None:
    watched = browse(site)
    page = watched.page
    log_in(watched, "admin.chu")
    enrol_two_factor(watched)
    visit_menu(watched, menu_labels(watched, present=EVERYONE + ADMIN_ONLY, absent=[]))

    # On the API tokens page: a new token is shown once, then only its first characters.
    page.fill("input[name=name]", "Tableau de bord régional")
    page.locator("main form button[type=submit]").click()
    watched.settle()
    new_key = page.get_by_test_id("new-token").inner_text().strip()
    assert len(new_key) >= 20, new_key
    watched.assert_clean("API tokens after creating one")
    open_api_tokens(watched)
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    expect(page.locator("main table")).to_contain_text("Tableau de bord régional")
    assert new_key not in page.content(), "the token is shown only once"


@pytest.mark.parametrize("username", ["cellule.chu", "admin.chu"])
def test_it_works_on_a_phone(site: str, browse: Any, screenshots: Path, username: str) -> None:
    watched = browse(site, **PHONE)
    page = watched.page
    log_in(watched, username)
    if username == "admin.chu":
        enrol_two_factor(watched)
    shots = 0

    def check_page(name: str) -> None:
        nonlocal shots
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1] + 1, f"{name} scrolls sideways on a phone: {width[0]}px > {width[1]}px"
        shots += 1
        page.screenshot(path=screenshots / f"{username}-{shots:02d}-{name}.png", full_page=True)

    def open_menu() -> None:
        toggler = page.locator(".navbar-toggler")
        expect(menu(watched)).to_be_hidden()
        expect(toggler).to_have_attribute("aria-expanded", "false")
        toggler.click()
        expect(toggler).to_have_attribute("aria-expanded", "true")
        expect(menu(watched)).to_be_visible()
        for link in menu_links(watched).all():
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["viewport"]["width"] + 1
            assert box["height"] >= 44, "tap targets are at least 44px high"

    admin = username == "admin.chu"
    labels = menu_labels(watched, present=EVERYONE + (ADMIN_ONLY if admin else []), absent=[] if admin else ADMIN_ONLY)
    for label in labels:
        open_menu()
        open_menu_page(watched, label)
        check_page(re.sub(r"\W+", "-", label.lower()).strip("-"))
        if label == fr("Establishments"):
            open_establishment(watched)
            check_page("establishment")
        elif label == fr("People"):
            open_person(watched)
            check_page("person")
    open_menu()
    open_api_tokens(watched)
    check_page("api-tokens")


def test_it_switches_the_login_page_to_english(language_site: str, browse: Any) -> None:
    # A browser set to English still gets French first: only the switch changes it.
    watched = browse(language_site, locale="en-US")
    page = watched.page
    watched.goto(LOGIN_PATH)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(watched.heading()).to_have_text(fr("Log in"))

    follow_form = page.locator("footer button[name=language][value=en]")
    follow_form.click()
    watched.settle()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(watched.heading()).to_have_text("Log in")
    assert page.url.endswith(LOGIN_PATH)

    page.locator("footer button[name=language][value=fr]").click()
    watched.settle()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(watched.heading()).to_have_text(fr("Log in"))
    watched.assert_clean("the login page in both languages")
