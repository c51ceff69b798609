"""At 360 px wide: the health-sector report with its D1111-16-2 checklist and reporting
path, the ANSSI notification with its NIS 2 stages, and the readiness page with the CaRE
domain 2 objectives and windows. No page scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from tests.browser.support import Watched

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

NARROW = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _narrow(watched: Watched, where: str) -> None:
    width = watched.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= 360, f"{where}: {width}"


def test_the_regulatory_pages_fit_a_narrow_phone(site: str, browse: Any, screenshots: Any) -> None:
    from django.db import connection

    from planblanc.accounts.models import User
    from planblanc.core.demo import DIRECTOR_LOGIN
    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.crisis.services import crisis_declare
    from planblanc.directory.models import Membership, Person
    from tests.conftest import verified_client

    director = User.objects.get(username=DIRECTOR_LOGIN)
    establishment = Membership.objects.filter(person=Person.objects.get(user=director)).first().establishment
    establishment.is_essential_operator = True
    establishment.save()
    try:
        crisis = crisis_declare(actor=director, establishment=establishment, kind="ransomware", severity="major",
                                first_facts="Écrans de rançon aux urgences.", is_exercise=True)
        phone = browse(site, **NARROW)
        client = verified_client(director)
        phone.page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": site,
                                         "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
        page = phone.page
        phone.goto(reverse("crisis:notification_form", args=[crisis.pk, "ars_cert_sante"]))
        expect(page.locator("#health-checklist")).to_be_visible()
        page.check("#id_category_4")
        page.check("#id_categories_assessed")
        page.select_option("#id_channel", "ars_any_means")
        page.locator("main form button[type=submit]").first.click()
        phone.settle()
        expect(page.locator("#id_category_4")).to_be_checked()
        expect(page.locator("#id_channel")).to_have_value("ars_any_means")
        _narrow(phone, "the health-sector report")
        page.screenshot(path=str(screenshots / "health-report-360.png"), full_page=True)
        phone.goto(reverse("crisis:notification_form", args=[crisis.pk, "anssi"]))
        # The crisis is under way: a progress report at final-report time, then the final
        # report a month after the incident is handled (NIS 2 art. 23(4)(e)).
        expect(page.locator("main ol li")).to_have_count(4)
        _narrow(phone, "the NIS 2 notification")
        phone.goto(reverse("readiness:establishment", args=[establishment.pk]))
        expect(page.locator("#care-domain2")).to_contain_text("D2.O4")
        _narrow(phone, "the readiness page")
        page.screenshot(path=str(screenshots / "readiness-care-360.png"), full_page=True)
        phone.assert_clean("regulatory pages")
    finally:
        purge_logbook_for_tests(connection)
