"""The regional animator console on a 360 px phone: the regional officer of the demo
launches one scenario in the region's establishments, pauses, resumes and sends the next
inject everywhere; each action swaps the state in place (HTMX, strict CSP), keeps the
scroll, and nothing scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Watched, log_in

pytestmark = pytest.mark.browser

NARROW = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def regional_site(site: str, transactional_db: Any) -> Iterator[tuple[str, Any]]:
    from django.db import connection
    from django.utils import timezone

    from planblanc.accounts.models import User
    from planblanc.actors import regional_exercise_runner
    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.directory.models import Establishment, Membership
    from planblanc.exercises import regional, services
    from planblanc.exercises.models import ExerciseRun

    officer = User.objects.get(username="ars.demo")
    establishments = list(regional.launchable_establishments(user=officer).order_by("name"))
    item = regional.regional_exercise_create(
        actor=officer, title="Rançongiciel régional — {etablissement}", establishments=establishments,
        planned_start=timezone.now(), kit_slug="debutant-rancongiciel", speed=10)
    regional.regional_preparation_run(regional_id=item.pk)  # the worker's task
    item.refresh_from_db()
    runner = regional_exercise_runner("ars.demo")
    for member in item.members.select_related("exercise", "establishment"):
        membership = Membership.objects.filter(establishment=member.establishment).select_related("person").first()
        assert membership is not None, member.establishment
        services.participant_add(actor=runner, exercise=member.exercise, person=membership.person, role="animator")
    assert Establishment.objects.filter(pk__in=[e.pk for e in establishments]).count() >= 2
    yield site, item
    ExerciseRun.objects.all().delete()
    purge_logbook_for_tests(connection)




def no_sideways_scroll(watched: Watched, where: str) -> None:
    scroll = watched.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= 361, f"{where} scrolls sideways at 360px ({scroll}px)"


def test_it_steers_every_establishment_from_a_phone(regional_site: tuple[str, Any], browse: Any) -> None:
    from planblanc.exercises.models import ExerciseRun, InjectRun, InjectState, RunStatus

    site, item = regional_site
    officer = browse(site, **NARROW)
    page = officer.page
    page.on("dialog", lambda dialog: dialog.accept())  # the launch and the end are confirmed
    log_in(officer, "ars.demo", two_factor=True)
    officer.goto("/exercices/regional/")
    officer.assert_clean("the list of regional exercises")
    no_sideways_scroll(officer, "the list of regional exercises")
    page.get_by_role("link", name=item.title).click()
    officer.settle()
    officer.assert_clean("the regional console before the launch")
    no_sideways_scroll(officer, "the regional console before the launch")
    members = item.members.count()
    expect(page.locator("#regional-runs > li")).to_have_count(members)

    page.locator("#regional-launch").click()
    officer.settle()
    expect(page.locator("#regional-status")).to_have_attribute("data-status", "running")
    runs = ExerciseRun.objects.filter(exercise__regional_member__regional=item)
    assert runs.count() == members and len({run.anchor_at for run in runs}) == 1
    no_sideways_scroll(officer, "the regional console once launched")

    # The actions swap the state in place: the page is not reloaded and keeps its scroll.
    page.evaluate("window.__kept = 'yes'")
    page.evaluate("window.scrollTo(0, 120)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    page.locator("#regional-pause").click()
    officer.settle()
    expect(page.locator("#regional-status")).to_have_attribute("data-status", "paused")
    assert set(runs.values_list("status", flat=True)) == {RunStatus.PAUSED}
    assert page.evaluate("window.__kept") == "yes"
    assert abs(page.evaluate("window.scrollY") - scrolled) <= 2

    page.locator("#regional-fire-next").click()
    officer.settle()
    expect(page.locator("#regional-state .alert-success")).to_be_visible()
    expect(page.locator("#regional-runs > li[data-fired='1']")).to_have_count(members)
    fired = InjectRun.objects.filter(run__in=runs, state=InjectState.SENT)
    assert fired.count() == members and set(fired.values_list("inject__number", flat=True)) == {1}

    page.locator("#regional-resume").click()
    officer.settle()
    expect(page.locator("#regional-status")).to_have_attribute("data-status", "running")
    assert set(runs.values_list("status", flat=True)) == {RunStatus.RUNNING}
    officer.assert_clean("the regional console after pausing, firing and resuming")
    no_sideways_scroll(officer, "the regional console after pausing, firing and resuming")

    page.get_by_role("link", name="Rapport de comparaison").click()
    officer.settle()
    officer.assert_clean("the regional report")
    no_sideways_scroll(officer, "the regional report")


def test_it_shows_the_preparation_in_place_and_enables_the_launch_at_the_end(
    site: str, transactional_db: Any, browse: Any,
) -> None:
    from django.utils import timezone

    from planblanc.accounts.models import User
    from planblanc.exercises import regional

    officer_user = User.objects.get(username="ars.demo")
    establishments = list(regional.launchable_establishments(user=officer_user).order_by("name"))
    item = regional.regional_exercise_create(
        actor=officer_user, title="Préparation régionale — {etablissement}", establishments=establishments,
        planned_start=timezone.now(), kit_slug="debutant-rancongiciel")
    officer = browse(site, **NARROW)
    page = officer.page
    log_in(officer, "ars.demo", two_factor=True)
    officer.goto(f"/exercices/regional/{item.pk}/")
    officer.assert_clean("the regional console while the exercises are prepared")
    no_sideways_scroll(officer, "the regional console while the exercises are prepared")
    expect(page.locator("#regional-status")).to_have_attribute("data-status", "preparing")
    expect(page.locator("#regional-preparation")).to_have_attribute("data-prepared", "0")
    expect(page.locator("#regional-launch")).to_be_disabled()

    # The worker writes the exercises; the console, polling, shows it without a reload.
    page.evaluate("window.__kept = 'yes'")
    regional.regional_preparation_run(regional_id=item.pk)
    expect(page.locator("#regional-status")).to_have_attribute("data-status", "prepared", timeout=10_000)
    expect(page.locator("#regional-preparation")).to_have_count(0)
    expect(page.locator("#regional-launch")).to_be_enabled()
    assert page.evaluate("window.__kept") == "yes"
    no_sideways_scroll(officer, "the regional console once prepared")
