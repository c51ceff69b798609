"""A phishing drill's link opened on a 360-pixel phone in Chromium: loading the page
counts no click (a mail gateway's browser would load it too); the first touch does,
through the page's own static script, under the Content-Security-Policy. On a phone
without scripts, "Continuer" does. No page scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.support import PHONE_USER_AGENT

pytestmark = pytest.mark.browser

PHONE_360 = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2, "user_agent": PHONE_USER_AGENT}


def test_the_click_is_recorded_by_the_page_at_the_first_touch(
    language_site: str, browse: Any, transactional_db: Any
) -> None:
    from planblanc.awareness import drills
    from tests.factories import DepartmentFactory, MembershipFactory, PersonFactory
    from tests.support.factories.awareness import DrillFactory, DrillTargetFactory

    nurse = PersonFactory(first_name="Inès", last_name="Martin")
    department = DepartmentFactory(name="Urgences adultes")
    MembershipFactory(person=nurse, establishment=department.establishment, department=department)
    drill = DrillFactory(establishment=department.establishment, sent_at=timezone.now())
    target = DrillTargetFactory(drill=drill, person=nurse, department=department, delivered_at=timezone.now())
    colleague = DrillTargetFactory(drill=drill, department=department, delivered_at=timezone.now())
    link = reverse("awareness:drill_click", args=[drills.target_token(target)])

    phone = browse(language_site, **PHONE_360)
    phone.goto(link)
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the sign-in page is {width}px wide"
    # Loaded, scripts run, the network idle: still no click.
    target.refresh_from_db()
    assert target.clicked_at is None and target.scans == 0
    expect(phone.page.locator("#drill-seen")).not_to_have_attribute("data-counted", "1")
    # Her thumb on the username field: the script sends the proof, the server answers 204.
    with phone.page.expect_response(lambda r: r.url.endswith("/vu/") and r.request.method == "POST") as seen:
        phone.page.locator("#drill-user").tap()
    assert seen.value.status == 204
    expect(phone.page.locator("#drill-seen")).to_have_attribute("data-counted", "1")
    target.refresh_from_db()
    assert target.clicked_at is not None and target.submitted_at is None and target.scans == 0
    # The "Continue" of browsers without scripts is not shown to hers.
    assert not phone.page.get_by_role("button", name="Continuer").is_visible()
    phone.assert_clean("drill sign-in")

    # A phone without scripts: the page asks to continue, and that is the click.
    bare = browse(language_site, java_script_enabled=False, **PHONE_360)
    bare.goto(reverse("awareness:drill_click", args=[drills.target_token(colleague)]))
    width = bare.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the sign-in page without scripts is {width}px wide"
    colleague.refresh_from_db()
    assert colleague.clicked_at is None
    bare.page.get_by_role("button", name="Continuer").tap()
    bare.settle()
    expect(bare.page.get_by_role("button", name="Continuer")).to_have_count(0)
    colleague.refresh_from_db()
    assert colleague.clicked_at is not None and colleague.scans == 0
    bare.assert_clean("drill sign-in without scripts")
