"""The animator console in a real browser, on the demo and on a phone: the exercise
animator starts a run, fires an inject now, skips another, and sees their states change
in the table that HTMX refreshes every 2 s (strict CSP: no inline script)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from planblanc.actors import SystemActor
from tests.browser.support import PHONE, log_in

pytestmark = pytest.mark.browser



@pytest.fixture
def exercise_site(site: str, transactional_db: Any) -> Iterator[tuple[str, Any]]:
    """The demo site with a CHU exercise from the beginner kit and an animator; the
    exercise crisis's logbook is wiped at the end with its triggers lifted."""
    from django.db import connection

    from planblanc.accounts.models import User
    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.directory.models import Membership
    from planblanc.exercises import services
    from planblanc.exercises.models import ExerciseRun

    actor = User.objects.get(username="animateur.chu")
    establishment = actor.role_assignments.get().establishment
    exercise = services.exercise_create_from_kit(actor=actor, establishment=establishment,
                                                 kit_slug="debutant-rancongiciel")
    people = [m.person for m in Membership.objects.filter(establishment=establishment).select_related("person")[:3]]
    services.participant_add(actor=actor, exercise=exercise, person=people[0], role="animator")
    for person in people[1:]:
        services.participant_add(actor=actor, exercise=exercise, person=person, role="player")
    yield site, exercise
    ExerciseRun.objects.all().delete()
    purge_logbook_for_tests(connection)




def test_it_drives_the_animator_console_on_a_phone(exercise_site: tuple[str, Any], browse: Any) -> None:
    from planblanc.exercises.models import InjectRun, InjectState

    site, exercise = exercise_site
    animator = browse(site, **PHONE)
    page = animator.page
    log_in(animator, "animateur.chu")
    animator.goto(f"/exercices/{exercise.pk}/deroule/")
    animator.assert_clean("the console before the start")

    page.select_option("#start-speed", "10")
    page.locator("#run-start").click()
    animator.settle()
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#simulated-time")).to_be_visible()
    animator.assert_clean("the console once started")

    # Fire inject 3 now (its due time is later), skip inject 4.
    page.locator("#inject-3 button.fire").click()
    animator.settle()
    expect(page.locator("#inject-3")).to_have_attribute("data-state", "sent")
    page.locator("#inject-4 button.skip").click()
    animator.settle()
    expect(page.locator("#inject-4")).to_have_attribute("data-state", "skipped")
    states = dict(InjectRun.objects.filter(run__exercise=exercise).values_list("inject__number", "state"))
    assert states[3] == InjectState.SENT and states[4] == InjectState.SKIPPED

    # A change made elsewhere (the worker sends inject 5) shows up without reloading.
    row = InjectRun.objects.select_related("run__exercise__establishment", "inject").get(
        run__exercise=exercise, inject__number=5)
    from planblanc.exercises.run import inject_fire

    assert inject_fire(actor=SystemActor("exercise", sends_alerts=True), row=row, by_hand=False)
    expect(page.locator("#inject-5")).to_have_attribute("data-state", "sent", timeout=8000)

    # Pause: the simulated clock stops.
    page.locator("#run-pause").click()
    animator.settle()
    expect(page.locator("#run-status")).to_have_attribute("data-status", "paused")
    animator.assert_clean("the console after firing, skipping and pausing")
