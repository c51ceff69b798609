"""One exercise on three phones (390×844): the player's inbox fills by itself and an
inject is taken in hand in place; the observer records an observation and assesses an
expected reaction far down the evaluation, which updates its card without moving the
page; the animator fires an inject from the console. Each sees only the links to the
spaces they may open, and no page scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from tests.browser.support import PHONE, Watched, fr

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def exercise_run(site: str, transactional_db: Any) -> Iterator[tuple[str, Any]]:
    """The demo with a CHU exercise under way: cellule.chu plays, auditeur.chu observes,
    animateur.chu animates. The logbook of its exercise crisis is wiped at the end."""
    from django.db import connection

    from planblanc.accounts.models import User
    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.directory.models import Establishment, Function, Membership
    from planblanc.exercises import services
    from planblanc.exercises.models import ExerciseRun
    from planblanc.exercises.run import run_start

    try:
        animator = User.objects.get(username="animateur.chu")
        chu = Establishment.objects.get(name="CHU de Belleval")
        exercise = services.exercise_create_from_kit(actor=animator, establishment=chu, kit_slug="debutant-rancongiciel")
        staff = [m.person for m in Membership.objects.filter(establishment=chu, function=Function.STAFF,
                                                            person__user__isnull=True).select_related("person")[:3]]
        for person, username, role in ((staff[0], "cellule.chu", "player"), (staff[1], "auditeur.chu", "observer"),
                                       (staff[2], "animateur.chu", "animator")):
            person.user = User.objects.get(username=username)
            person.save(update_fields=["user"])
            services.participant_add(actor=animator, exercise=exercise, person=person, role=role)
        run_start(actor=animator, exercise=exercise, speed=1)
        yield site, exercise
    finally:
        ExerciseRun.objects.all().delete()
        purge_logbook_for_tests(connection)


def phone_for(browse: Any, site: str, username: str) -> Watched:
    from planblanc.accounts.models import User
    from tests.conftest import verified_client

    watched = browse(site, **PHONE)
    client = verified_client(User.objects.get(username=username))
    watched.page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": site,
                                       "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    return watched


def spaces_linked(watched: Watched, exercise: Any) -> set[str]:
    nav = watched.page.locator("main nav.nav")
    return {name for name in ("run_console", "run_player", "run_observer")
            if nav.locator(f"a[href='{reverse(f'exercises:{name}', args=[exercise.pk])}']").count()}


def no_sideways_scroll(watched: Watched, where: str) -> None:
    width = watched.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= PHONE["viewport"]["width"], f"{where}: {width}"


def test_it_runs_an_exercise_on_three_phones(exercise_run: tuple[str, Any], browse: Any) -> None:
    from planblanc.exercises.models import InjectRun, InjectState
    from planblanc.exercises.run import inject_fire

    site, exercise = exercise_run
    # The player: an empty inbox, then an inject arrives without reloading.
    player = phone_for(browse, site, "cellule.chu")
    page = player.page
    player.goto(reverse("exercises:run_player", args=[exercise.pk]))
    assert spaces_linked(player, exercise) == {"run_player"}
    expect(page.locator("#inbox")).to_contain_text(fr("Nothing received yet."))
    row = InjectRun.objects.select_related("run__exercise__establishment", "inject").filter(
        run__exercise=exercise).order_by("inject__number").first()
    assert inject_fire(actor="system:exercise", row=row, by_hand=False)
    card = page.locator(f"#inbox-{row.inject.number}")
    expect(card).to_be_visible(timeout=8000)
    no_sideways_scroll(player, "the player's inbox")
    card.locator("button.take").click()
    expect(card).to_have_attribute("data-state", InjectState.TAKEN)
    expect(page.locator("#inbox [role=status]")).to_contain_text(fr("Taken in hand."))
    assert page.url.endswith(reverse("exercises:run_player", args=[exercise.pk]))
    player.assert_clean("the player space")
    # One phone at a time from here (the test server's in-memory SQLite locks a table
    # while another page polls it).
    page.close()

    # The observer: an observation, then one tap on an outcome far down the evaluation.
    observer = phone_for(browse, site, "auditeur.chu")
    page = observer.page
    observer.goto(reverse("exercises:run_observer", args=[exercise.pk]))
    assert spaces_linked(observer, exercise) == {"run_player", "run_observer"}
    page.fill("textarea[name=text]", "La cellule se réunit en 12 minutes.")
    page.locator("main form button[type=submit]").click()
    observer.settle()
    expect(page.locator("main")).to_contain_text("La cellule se réunit en 12 minutes.")
    no_sideways_scroll(observer, "the observer space")
    observer.goto(reverse("exercises:run_evaluation", args=[exercise.pk]))
    no_sideways_scroll(observer, "the evaluation")
    cards = page.locator("#reactions article")
    assert cards.count() >= 4
    target = cards.nth(cards.count() - 2)
    target.scroll_into_view_if_needed()
    late = target.locator("button.outcome-late")
    expect(late).to_be_in_viewport()
    before = page.evaluate("window.scrollY")
    assert before > 300, "the card is far down the page"
    late.click()
    expect(target.locator(".outcome-label")).to_have_text(fr("Late"))
    expect(target.locator("[role=status]")).to_have_text(fr("Saved."))
    expect(page.locator("#overall")).not_to_have_text("—")
    assert abs(page.evaluate("window.scrollY") - before) < 5, "the page kept its scroll position"
    text = page.locator("#reactions").inner_text()
    for code in ("done", "late", "missed"):
        assert f" {code}" not in f" {text}".lower().replace("\n", " "), code
    observer.assert_clean("the evaluation")
    page.close()

    # The animator: every space, and an inject fired from the console.
    animator = phone_for(browse, site, "animateur.chu")
    page = animator.page
    animator.goto(reverse("exercises:run_console", args=[exercise.pk]))
    assert spaces_linked(animator, exercise) == {"run_console", "run_player", "run_observer"}
    second = page.locator("tr[data-state=pending] button.fire").first
    number = second.locator("xpath=ancestor::tr").get_attribute("id")
    second.click()
    animator.settle()
    expect(page.locator(f"#{number}")).to_have_attribute("data-state", InjectState.SENT)
    no_sideways_scroll(animator, "the animator console")
    animator.assert_clean("the animator console")
