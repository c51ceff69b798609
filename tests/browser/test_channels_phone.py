"""At 360 px wide: "Mes appareils" (a device listed, removed in place), the cell's staff
situation page, and the public situation page read without an account. No page scrolls
sideways."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from tests.browser.support import Watched, fr

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

NARROW = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _phone(browse: Any, site: str, user: Any = None) -> Watched:
    watched = browse(site, **NARROW)
    if user is not None:
        from tests.conftest import verified_client

        client = verified_client(user)
        watched.page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": site,
                                           "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    return watched


def _narrow(watched: Watched, where: str) -> None:
    width = watched.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= 360, f"{where}: {width}"


def test_it_fits_devices_and_situation_pages_on_a_narrow_phone(site: str, browse: Any, settings: Any, screenshots: Any) -> None:
    from django.db import connection

    from planblanc.accounts.models import User
    from planblanc.alerting.models import PushSubscription
    from planblanc.core.demo import DIRECTOR_LOGIN
    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.crisis.services import crisis_declare
    from planblanc.directory.models import Membership, Person

    settings.ALERTING_CHANNELS = {"push": [{"name": "push", "kind": "webpush"}]}
    director = User.objects.get(username=DIRECTOR_LOGIN)
    person = Person.objects.get(user=director)
    PushSubscription.objects.create(
        person=person, endpoint="https://push.example.org/wpush/v2/abcdefghijklmnopqrstuvwxyz0123456789" * 3,
        p256dh="B" * 87, auth="A" * 22,
        user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Mobile",
    )
    try:
        crisis = crisis_declare(actor=director, establishment=Membership.objects.filter(person=person).first().establishment,
                                kind="ransomware", severity="major", first_facts="Écrans de rançon aux urgences.",
                                is_exercise=True)
        phone = _phone(browse, site, director)
        page = phone.page
        phone.goto(reverse("alerting:devices"))
        expect(page.locator("#pb-push-subscribe")).to_be_visible()
        _narrow(phone, "my devices")
        page.screenshot(path=str(screenshots / "devices-360.png"), full_page=True)
        page.locator("#pb-devices button[type=submit]").click()
        expect(page.locator("#pb-devices")).to_contain_text(fr("No device receives your alerts yet."))
        assert not PushSubscription.objects.exists()
        phone.assert_clean("my devices")

        phone.goto(reverse("crisis:situation", args=[crisis.pk]))
        _narrow(phone, "the cell's situation page")
        page.fill("textarea[name=what_to_do]", "Fiches papier. N'allumez aucun poste.")
        page.locator("main form button[type=submit]").last.click()
        phone.settle()
        expect(page.locator("#situation-link")).to_be_visible()
        link = page.locator("#situation-link").get_attribute("href")
        _narrow(phone, "the published situation page")
        page.close()

        public = _phone(browse, site)
        public.goto(link.removeprefix(settings.ALERTING_PUBLIC_URL))
        expect(public.page.locator("main")).to_contain_text("Fiches papier")
        _narrow(public, "the public situation page")
        public.page.screenshot(path=str(screenshots / "situation-360.png"), full_page=True)
        public.page.select_option("select[name=channel]", "email")
        public.page.fill("input[name=address]", "pas-une-adresse")
        public.page.locator("#subscribe button[type=submit]").click()
        expect(public.page.locator("#subscribe")).to_contain_text(fr("Enter a valid email address."))
        _narrow(public, "the subscription error")
    finally:
        purge_logbook_for_tests(connection)
