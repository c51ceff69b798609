"""A regional officer launches the yearly awareness campaign for the region's
establishments on a 360-pixel phone. The campaigns are prepared in the background: the
launch's card shows the progress and updates itself in place, the officer asks for the
invitations while it prepares, and the card follows them to the end. The page never
scrolls sideways and keeps its scroll position."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.support import PHONE_USER_AGENT, fr, session_cookie

pytestmark = pytest.mark.browser

PHONE_360 = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2, "user_agent": PHONE_USER_AGENT}


def test_a_regional_launch_shows_its_progress_in_place_on_a_phone(
    language_site: str, browse: Any, transactional_db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planblanc.awareness import services
    from planblanc.awareness.models import CampaignLaunch
    from planblanc.tenancy import Role
    from tests.factories import (
        EstablishmentFactory,
        MembershipFactory,
        PersonFactory,
        RegionFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    settings.AWARENESS_LAUNCH_AT_ONCE_PEOPLE = 0  # prepared by the workers, not the request
    monkeypatch.setattr(services, "_launch_waker", None)  # no worker here: the test runs the steps
    region = RegionFactory(name="Occitanie")
    for name in ("CHU de Belleval", "CH de Lunel", "EHPAD Les Tilleuls"):
        establishment = EstablishmentFactory(name=name, region=region)
        for _ in range(2):
            MembershipFactory(person=PersonFactory(), establishment=establishment)
    officer = UserFactory(username="ars.occitanie")
    RoleAssignmentFactory(user=officer, role=Role.REGIONAL_OFFICER, region=region)

    watched = browse(language_site, **PHONE_360)
    watched.page.context.add_cookies([session_cookie(officer, language_site)])
    page = watched.page
    watched.goto(reverse("awareness:launches"))
    page.select_option("select[name=scope]", f"region-{region.pk}")
    page.get_by_role("button", name=fr("Launch the campaign")).click()
    page.wait_for_load_state()
    launch = CampaignLaunch.objects.filter().first()
    assert launch is not None, page.locator("main").inner_text()
    card = page.locator(f"#launch-{launch.pk}")
    expect(card).to_contain_text("0 établissements sur 3")
    expect(card.locator("progress")).to_have_attribute("max", "3")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # The officer asks for the invitations while the campaigns are prepared: in place.
    page.evaluate("window.scrollTo(0, 120)")
    kept = page.evaluate("window.scrollY")
    card.get_by_role("button", name=fr("Send the invitations once ready")).click()
    expect(card).to_contain_text(fr("The invitations follow as soon as it is ready."))
    assert page.evaluate("window.scrollY") == kept

    # The workers' steps run; the card follows them by itself, to the end.
    assert services.launch_run(launch_id=launch.pk) is False
    launch.refresh_from_db()
    assert launch.state == "invited" and launch.invited_people == 6
    expect(card).to_contain_text("à 6 personnes", timeout=10_000)
    expect(card.get_by_role("button", name=fr("Remind those not yet trained"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("window.scrollY") == kept
    watched.assert_clean("awareness launch")
