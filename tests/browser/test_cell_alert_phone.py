"""The crisis cell on phones, in a real browser: the cell alert's link opens the light
acknowledgement page (meeting place, bridge, answers) at 360 px, "Je viens" with an
arrival time is recorded, and the director's cell board shows it, with call buttons and
no sideways scrolling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse

from planblanc.core.demo import DEMO_PASSWORD
from tests.browser.support import Watched, fr
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

PHONE_360 = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def cell_site(site: str, settings: Any, transactional_db: Any) -> Iterator[tuple[str, SmtpServer]]:
    from django.db import connection

    from planblanc.crisis.db_guards import purge_logbook_for_tests

    with SmtpServer() as smtp:
        settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
        settings.ALERTING_PUBLIC_URL = site
        yield site, smtp
    purge_logbook_for_tests(connection)


def _no_sideways_scroll(watched: Watched, where: str) -> None:
    width = watched.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 361, f"{where} scrolls sideways ({width} px)"
    screens = Path(django_settings.DATA_DIR) / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(screens / f"{where.replace(' ', '-')}-360.png"), full_page=True)


def test_a_cell_member_answers_on_a_phone_and_the_director_sees_it_on_the_cell_board(cell_site, browse) -> None:
    from planblanc.accounts.models import User
    from planblanc.crisis.services import crisis_declare

    site, smtp = cell_site
    director_user = User.objects.get(username="directeur.chu")
    establishment = director_user.role_assignments.first().establishment
    crisis = crisis_declare(actor=director_user, establishment=establishment, kind="ransomware", severity="critical",
                            first_facts="Écrans de rançon à l'accueil des urgences.")
    call_command("alert_worker", "--once", "-v", "0")
    # The demo's awareness invitations share the outbox; the alert goes first, being urgent.
    mail = smtp.recorder.received[0]
    assert "rançon" in mail.body, mail.body
    link = re.search(r"https?://\S+/ack/\S+/", mail.body)
    assert link, mail.body

    member = browse(site, **PHONE_360)
    member.page.goto(link.group(0))
    member.settle()
    member.assert_clean("the acknowledgement page")
    assert crisis.bridge.get("meeting_place", "") in member.page.content()
    _no_sideways_scroll(member, "acknowledgement page")
    member.page.fill("input[name=minutes]", "15")
    member.page.get_by_role("button", name=fr("I am coming")).click()
    member.settle()
    expect(member.heading()).to_have_text(fr("Acknowledged, thank you"))
    member.assert_clean("the acknowledgement")

    director = browse(site, **PHONE_360)
    director.goto("/compte/connexion/")
    director.page.fill("#id_username", "directeur.chu")
    director.page.fill("#id_password", DEMO_PASSWORD)
    director.page.locator("main form button[type=submit]").click()
    director.settle()
    director.goto(reverse("crisis:cell_board", args=[crisis.pk]))
    director.assert_clean("the cell board")
    expect(director.page.locator('#cell-board [data-state="coming"]').first).to_be_visible()
    assert director.page.locator('#cell-board a[href^="tel:"]').count() >= 2
    _no_sideways_scroll(director, "cell board")
