"""The worst hour on a phone (390×844, Chromium): the director declares; a cell member
sees the banner, opens "my tasks", completes one, changes a department on the status
board, records a decision with an error then correctly — each time in place, with a
confirmation and the scroll position kept; a second member sees each change within 2 s;
the director ends the crisis after a confirmation page that says what it does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from planblanc.crisis.models import Crisis, CrisisTask, Decision, DepartmentStatus
from tests.browser.support import PHONE, Watched, fr, log_in

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

LIVE_MS = 2_000  # members see a change within 2 s


@pytest.fixture
def console_site(site: str, transactional_db: Any) -> Iterator[str]:
    from django.db import connection

    from planblanc.crisis.db_guards import purge_logbook_for_tests

    yield site
    purge_logbook_for_tests(connection)


def _no_sideways_scroll(watched: Watched, where: str) -> None:
    width = watched.page.evaluate("window.innerWidth")
    scroll = watched.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{where}: {scroll}px wide in a {width}px screen"


def _scroll_to(watched: Watched, selector: str) -> tuple[float, str, float]:
    """Scroll the element to the middle of the screen, away from the top of the page.

    Returns where the page was scrolled, and where the element sat on the screen."""
    element = watched.page.locator(selector)
    element.evaluate("el => el.scrollIntoView({block: 'center', behavior: 'instant'})")
    # A live update may land right after the section opened: let it, then aim again.
    watched.page.wait_for_timeout(300)
    element.evaluate("el => el.scrollIntoView({block: 'center', behavior: 'instant'})")
    scrolled = float(watched.page.evaluate("window.scrollY"))
    assert scrolled > 200, f"{selector} is too near the top to tell a jump"
    return scrolled, selector, float(element.evaluate("el => el.getBoundingClientRect().top"))


def _assert_scroll_kept(watched: Watched, before: tuple[float, str, float], where: str) -> None:
    """Where the reader was stays in view: the same scroll position; or the element the
    reader acted on still at the same place on the screen (the browser's scroll anchoring
    moves the page when a part above it changes height, so that what is read stays put);
    or the page became shorter than the old position (the browser stops at the new bottom)."""
    scrolled, selector, top = before
    after = float(watched.page.evaluate("window.scrollY"))
    bottom = float(watched.page.evaluate("document.documentElement.scrollHeight - window.innerHeight"))
    if abs(after - scrolled) <= 4 or (after < scrolled and abs(after - bottom) <= 2):
        return
    element = watched.page.locator(selector)
    now = float(element.evaluate("el => el.getBoundingClientRect().top")) if element.count() == 1 else None
    assert now is not None and abs(now - top) <= 4, (
        f"{where}: the page jumped from {scrolled} to {after}, "
        f"and {selector} moved on the screen from {top} to {now}")


def test_the_crisis_cell_works_from_phones(console_site: str, browse: Any) -> None:
    from django.contrib.auth import get_user_model

    from planblanc.directory.models import Function, Person

    # Declare, as the director, on a phone.
    director = browse(console_site, **PHONE)
    log_in(director, "directeur.chu")
    chu = Person.objects.filter(memberships__function=Function.DIRECTOR).first().memberships.first().establishment
    director.goto(f"/crise/etablissement/{chu.pk}/")
    assert director.page.locator("#id_confirm_second").count() == 0, "second-crisis box with no crisis"
    director.page.select_option("#id_kind", "ransomware")
    director.page.select_option("#id_severity", "critical")
    director.page.fill("#id_first_facts", "Écrans de rançon aux urgences à 3 h 05.")
    director.page.get_by_role("button", name=fr("Declare the crisis")).click()
    director.settle()
    crisis = Crisis.objects.get()
    director.assert_clean("the declaration")

    # The cell member's login is linked to a person who owns tasks.
    member_user = get_user_model().objects.get(username="cellule.chu")
    ciso = Person.objects.filter(memberships__establishment=crisis.establishment,
                                 memberships__function=Function.CISO).first()
    ciso.user = member_user
    ciso.save(update_fields=["user"])
    if not CrisisTask.objects.filter(crisis=crisis, owner=ciso).exists():
        CrisisTask.objects.filter(pk=CrisisTask.objects.filter(crisis=crisis).first().pk).update(owner=ciso)
    mine = list(CrisisTask.objects.filter(crisis=crisis, owner=ciso))

    # A second member of the cell follows on another phone, on the tasks.
    from planblanc.accounts.models import RoleAssignment
    from planblanc.core.demo import DEMO_PASSWORD
    from planblanc.tenancy import Role

    second = get_user_model().objects.create_user(username="cellule2.chu", password=DEMO_PASSWORD)
    RoleAssignment.objects.create(user=second, role=Role.CRISIS_MEMBER, establishment=crisis.establishment)
    other = browse(console_site, **PHONE)
    log_in(other, "cellule2.chu")
    other.goto(f"/crise/{crisis.pk}/v/taches/?filtre=all")

    # The cell member sees the banner on the dashboard and opens the console from it.
    member = browse(console_site, **PHONE)
    log_in(member, "cellule.chu")
    page = member.page
    member.goto("/")
    banner = page.locator(".pb-crisis-banner").first
    expect(banner).to_be_visible()
    assert banner.bounding_box()["y"] < 400, "the banner is not at the top of the dashboard"
    banner.get_by_role("link", name=fr("Open the console")).click()
    member.settle()
    _no_sideways_scroll(member, "the console")

    # "My tasks", in one tap; complete one in place.
    page.locator(".pb-console-nav").get_by_role("link", name=fr("My tasks")).click()
    member.settle()
    expect(page.locator(f"#task-{mine[0].pk}")).to_be_visible()
    _no_sideways_scroll(member, "my tasks")
    before = _scroll_to(member, f"#task-{mine[-1].pk}")
    task = mine[-1]
    page.locator(f"#task-{task.pk}").get_by_role("button", name=fr("Done")).click()
    expect(page.locator("#pb-toast")).to_have_text(fr("Task done."))
    started = time.monotonic()
    _assert_scroll_kept(member, before, "completing a task")
    task.refresh_from_db()
    assert task.status == "done"
    expect(other.page.locator(f"#task-{task.pk}")).to_contain_text(fr("Done"), timeout=LIVE_MS)
    assert time.monotonic() - started < LIVE_MS / 1000 + 0.5
    member.assert_clean("completing a task")

    # The status board: cards with one-tap states.
    other.goto(f"/crise/{crisis.pk}/v/tableau/")
    page.locator(".pb-console-nav").get_by_role("link", name=fr("Status board")).click()
    member.settle()
    _no_sideways_scroll(member, "the status board")
    row = DepartmentStatus.objects.filter(crisis=crisis).order_by("-id").first()
    card = page.locator(f"#department-{row.pk}")
    before = _scroll_to(member, f"#department-{row.pk}")
    buttons = card.locator("button")
    for index in range(buttons.count()):
        box = buttons.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 40, box
    card.get_by_role("button", name=fr("Degraded mode")).click()
    expect(page.locator("#pb-toast")).to_contain_text(row.name)
    _assert_scroll_kept(member, before, "changing a department")
    expect(page.locator(f"#department-{row.pk} .badge")).to_have_text(fr("Degraded mode"))
    expect(other.page.locator(f"#department-{row.pk} .badge")).to_have_text(fr("Degraded mode"), timeout=LIVE_MS)
    row.refresh_from_db()
    assert row.status == "degraded"
    member.assert_clean("the status board")

    # A decision: an error first (beside the field, the text kept), then correctly.
    other.goto(f"/crise/{crisis.pk}/v/decisions/")
    page.locator(".pb-console-nav").get_by_role("link", name=fr("Decisions")).click()
    member.settle()
    page.fill("#id_decision-rationale", "Le SIH est chiffré, le papier est prêt.")
    before = _scroll_to(member, "#decision-form button[type=submit]")
    page.locator("#decision-form button[type=submit]").click()
    expect(page.locator("#decision-form .invalid-feedback")).to_be_visible()
    expect(page.locator("#id_decision-rationale")).to_have_value("Le SIH est chiffré, le papier est prêt.")
    _assert_scroll_kept(member, before, "a decision refused")
    page.fill("#id_decision-text", "Passage en mode dégradé papier pour tout l'hôpital.")
    page.locator("#decision-form button[type=submit]").click()
    expect(page.locator("#pb-toast")).to_have_text(fr("Decision recorded in the logbook."))
    _assert_scroll_kept(member, before, "a decision recorded")
    expect(page.locator("#id_decision-text")).to_have_value("")
    expect(other.page.locator("#crisis-decisions")).to_contain_text("Passage en mode dégradé papier",
                                                                     timeout=LIVE_MS)
    assert Decision.objects.filter(crisis=crisis).count() == 1
    member.assert_clean("the decisions")
    other.assert_clean("the second member's console")

    # The cell member may not end the crisis; the director ends it after confirming.
    page.locator(".pb-console-nav").get_by_role("link", name=fr("Alert and cell")).click()
    member.settle()
    assert page.get_by_role("link", name=fr("End of crisis")).count() == 0
    director.goto(f"/crise/{crisis.pk}/v/alerte/")
    director.page.get_by_role("link", name=fr("End of crisis")).click()
    director.settle()
    expect(director.page.locator("main")).to_contain_text(fr("Ending the crisis cannot be undone. It will:"))
    director.page.fill("#id_summary", "Activité reprise en mode normal.")
    director.page.get_by_role("button", name=fr("I confirm: end the crisis")).click()
    director.settle()
    crisis.refresh_from_db()
    assert not crisis.is_active
    director.assert_clean("the end of the crisis")
    # The member's open console reloads by itself: no more forms, no more banner.
    expect(page.locator(".pb-crisis-banner")).to_have_count(0, timeout=5_000)
    member.assert_clean("the member's console after the end")


def test_typed_text_survives_no_network_an_expired_session_and_too_long(console_site: str, browse: Any) -> None:
    from planblanc.core.demo import DIRECTOR_LOGIN
    from planblanc.crisis.services import MAX_TEXT, crisis_declare
    from planblanc.directory.models import Establishment

    director_user = __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model().objects.get(
        username=DIRECTOR_LOGIN)
    chu = Establishment.objects.get(memberships__person__user=director_user, memberships__function="director")
    crisis = crisis_declare(actor=director_user, establishment=chu, kind="ransomware", severity="major",
                            first_facts="Rançon")
    member = browse(console_site, **PHONE)
    log_in(member, "cellule.chu")
    member.goto(f"/crise/{crisis.pk}/")
    page = member.page
    entries = crisis.entries.count()
    text = "Appel du SAMU : 3 patients à transférer vers le CH voisin."

    # The network drops: said on screen, the entry stays in the form.
    page.fill("#id_text", text)
    member.page.context.set_offline(True)
    page.locator("#entry-form button[type=submit]").click()
    expect(page.locator("#pb-network")).to_contain_text("Pas de réseau")
    expect(page.locator("#entry-form .pb-send-error")).to_be_visible()
    expect(page.locator("#id_text")).to_have_value(text)
    member.page.context.set_offline(False)
    # HTMX logs the failed sends we provoked (the form's and the poller's): expected here.
    member.problems = [p for p in member.problems if "ERR_INTERNET_DISCONNECTED" not in p
                       and "htmx:sendError" not in p and "htmx:afterRequest" not in p]
    # Back online, the same text is sent.
    page.locator("#entry-form button[type=submit]").click()
    expect(page.locator("#pb-toast")).to_have_text(fr("Entry added to the logbook."))
    expect(page.locator("#id_text")).to_have_value("")
    assert crisis.entries.count() == entries + 1

    # Too long: said beside the field before sending, the text kept.
    long_text = "x" * (MAX_TEXT + 10)
    page.locator("#id_text").evaluate("(el, v) => { el.value = v; }", long_text)
    page.locator("#entry-form button[type=submit]").click()
    expect(page.locator("#entry-form .pb-too-long")).to_contain_text("20")
    assert page.locator("#id_text").input_value() == long_text

    # The session expires: said so, the text kept, nothing swapped in the page.
    page.fill("#id_text", text + " (bis)")
    # Only the session goes: the browser keeps its other cookies.
    context = member.page.context
    kept = [c for c in context.cookies() if "session" not in c["name"]]
    context.clear_cookies()
    context.add_cookies(kept)
    page.locator("#entry-form button[type=submit]").click()
    expect(page.locator("#entry-form .pb-send-error")).to_contain_text("session")
    expect(page.locator("#id_text")).to_have_value(text + " (bis)")
    assert crisis.entries.count() == entries + 1
    member.problems = [p for p in member.problems if "HTTP 403" not in p]
    member.assert_clean("the console after the failures")
