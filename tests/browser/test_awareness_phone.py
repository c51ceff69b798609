"""A nurse's yearly awareness on a 360-pixel phone: she opens her personal link, reads a
module, fails the quiz once, passes it, and downloads her certificate once her modules
are done; the establishment's awareness page shows her department's completion rise.
She also goes through a phishing drill's pages. No page scrolls sideways."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.support import PHONE_USER_AGENT, Watched, session_cookie

pytestmark = pytest.mark.browser

PHONE_360 = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2, "user_agent": PHONE_USER_AGENT}


def _no_sideways_scroll(watched: Watched, where: str) -> None:
    width = watched.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{where}: the page is {width}px wide"


def _tick(watched: Watched, module: Any, *, right: bool) -> None:
    page = watched.page
    for fieldset in page.locator("fieldset.pb-awareness-question").all():
        name = fieldset.locator("input[type=checkbox]").first.get_attribute("name")
        question = module.question(name.removeprefix("q-"))
        for index, answer in enumerate(question.answers):
            if answer.correct is right:
                fieldset.locator(f"input[value='{index}']").check()


def test_the_nurse_trains_on_her_phone_and_her_department_rises(
    language_site: str, browse: Any, transactional_db: Any, settings: Any
) -> None:
    settings.AWARENESS_PROGRESS_REFRESH_SECONDS = 1
    from planblanc.awareness import services
    from planblanc.awareness.content import module_get
    from planblanc.awareness.models import Assignment
    from planblanc.directory.models import Function
    from planblanc.tenancy import Role
    from tests.factories import (
        DepartmentFactory,
        EstablishmentFactory,
        MembershipFactory,
        PersonFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    chu = EstablishmentFactory(name="CHU de Belleval")
    emergency = DepartmentFactory(establishment=chu, name="Urgences adultes", kind="emergency")
    nurse = PersonFactory(first_name="Inès", last_name="Martin")
    MembershipFactory(person=nurse, establishment=chu, department=emergency, function=Function.STAFF)
    admin = UserFactory(username="admin.chu")
    RoleAssignmentFactory(user=admin, role=Role.ESTABLISHMENT_ADMIN, establishment=chu)
    campaign = services.campaign_create(
        actor=admin, establishment=chu, year=timezone.localdate().year, title="Sensibilisation annuelle",
        deadline=timezone.localdate() + datetime.timedelta(days=30))
    token = services.link_make(campaign=campaign, person=nurse)

    # The administrator keeps the establishment's page open on a phone: nobody trained yet.
    manager = browse(language_site, **PHONE_360)
    manager.page.context.add_cookies([session_cookie(admin, language_site)])
    manager.goto(reverse("awareness:establishment", args=[chu.pk]))
    assert "0 %" in manager.page.locator("#by-department").inner_text()
    manager.page.evaluate("window.scrollTo(0, 200)")
    kept_scroll = manager.page.evaluate("window.scrollY")

    phone = browse(language_site, **PHONE_360)
    phone.goto(reverse("awareness:learner_home", args=[token]))
    _no_sideways_scroll(phone, "modules")
    phone.page.get_by_role("link", name=module_get("ransom-note").title.fr).click()
    phone.settle()
    _no_sideways_scroll(phone, "lesson")
    phone.page.locator("#take-quiz").click()
    phone.settle()
    _no_sideways_scroll(phone, "quiz")
    module = module_get("ransom-note")
    _tick(phone, module, right=False)
    phone.page.locator("#quiz button[type=submit]").click()
    phone.settle()
    assert phone.page.locator("#failed").is_visible()
    _no_sideways_scroll(phone, "failed quiz")
    phone.page.locator("#retry").click()
    phone.settle()
    _tick(phone, module, right=True)
    phone.page.locator("#quiz button[type=submit]").click()
    phone.settle()
    assert phone.page.locator("#passed").is_visible()
    phone.assert_clean("quiz")

    # Her other modules, taken the same way, through the service.
    learner = services.link_verify(token)
    for assignment in Assignment.objects.filter(campaign=campaign, person=nurse, completed_at=None):
        right = {q.id: {i for i, a in enumerate(q.answers) if a.correct}
                 for q in services.quiz_questions(assignment=assignment)}
        services.quiz_submit(learner=learner, assignment=assignment, answers=right)

    phone.goto(reverse("awareness:learner_home", args=[token]))
    with phone.page.expect_download() as download:
        phone.page.locator("#certificate").click()
    assert download.value.suggested_filename.endswith(".pdf")

    # Her department's completion rises on the open page by itself (the live progress),
    # without a reload and without moving the reader.
    expect(manager.page.locator("#by-department")).to_contain_text("100 %", timeout=15_000)
    assert manager.page.evaluate("window.scrollY") == kept_scroll
    _no_sideways_scroll(manager, "establishment page, live")

    # A phishing drill's pages on the same phone: the fake sign-in, the teaching page, the report.
    from planblanc.awareness import drills
    from planblanc.awareness.models import Drill, DrillTarget

    drill = Drill.objects.create(establishment=chu, template="carte-cps", created_by=admin, sent_at=timezone.now())
    target = DrillTarget.objects.create(drill=drill, person=nurse, department=emergency, delivered_at=timezone.now())
    drill_token = drills.target_token(target)
    phone.goto(reverse("awareness:drill_click", args=[drill_token]))
    _no_sideways_scroll(phone, "drill sign-in")
    phone.page.locator("#drill-secret").fill("un secret tapé")
    phone.page.locator("#drill-form button[type=submit]").click()
    phone.settle()
    assert phone.page.locator("#exercise").is_visible()
    _no_sideways_scroll(phone, "drill lesson")
    phone.goto(reverse("awareness:drill_report", args=[drill_token]))
    phone.page.locator("#report-form button[type=submit]").click()
    phone.settle()
    assert phone.page.locator("#reported").is_visible()
    phone.assert_clean("drill pages")
    target.refresh_from_db()
    assert target.clicked_at and target.submitted_at and target.reported_at

    manager.goto(reverse("awareness:establishment", args=[chu.pk]))
    assert "100 %" in manager.page.locator("#by-department").inner_text()
    _no_sideways_scroll(manager, "establishment page")
    manager.assert_clean("establishment page")
    # The drill's results and launch form at 360 px.
    manager.goto(reverse("awareness:drill_detail", args=[drill.pk]))
    _no_sideways_scroll(manager, "drill results")
    manager.goto(reverse("awareness:drills", args=[chu.pk]))
    _no_sideways_scroll(manager, "drills page")
    manager.assert_clean("drill pages")
