"""Mutual aid in a real browser, on phones: the CHU in crisis asks its group for 20
standalone PCs and an incident responder; the group CISO is alerted (a real email in a
local SMTP server) and offers 12 PCs; the region offers 8 and a CSIRT responder; the CHU
accepts both, deliveries are marked, the CHU sends its situation report; the regional
officer sees it all on the regional board. Every mutual-aid page is then opened at
360 px wide: none scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from planblanc.accounts.models import User
from planblanc.crisis.models import Crisis, LogbookEntry
from planblanc.directory.models import Establishment, Person
from planblanc.mutual_aid.models import AidOffer, HelpRequest, RegionalCrisis, SituationReport
from tests.browser.support import PHONE, Watched, fr, log_in
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect



@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def aid_site(site: str, smtp: SmtpServer, settings: Any, transactional_db: Any) -> Iterator[str]:
    from django.db import connection

    from planblanc.crisis.db_guards import purge_logbook_for_tests

    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    settings.ALERTING_PUBLIC_URL = site
    yield site
    purge_logbook_for_tests(connection)




def no_sideways_scroll(watched: Watched, width: int, where: str) -> None:
    scroll = watched.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"{where} scrolls sideways at {width}px ({scroll}px)"


def submit(watched: Watched, label: str, where: str, width: int = 390) -> None:
    watched.page.locator("main").get_by_role("button", name=fr(label)).last.click()
    watched.settle()
    watched.assert_clean(where)
    no_sideways_scroll(watched, width, where)


def test_the_chu_gets_help_from_its_group_and_region_on_phones(aid_site: str, browse: Any, smtp: SmtpServer) -> None:
    chu = Establishment.objects.get(name="CHU de Belleval")
    crisis = Crisis.objects.create(establishment=chu, kind="ransomware", severity="critical",
                                   first_facts="Rançongiciel : postes des urgences chiffrés.", declared_by_label="Direction")
    # The group CISO and the ARS officer have a person (an address) behind their login.
    for username, last_name in (("rssi.ght", "Rssi-Ght"), ("ars.demo", "Astreinte-Ars")):
        Person.objects.create(first_name="Camille", last_name=last_name, user=User.objects.get(username=username),
                              email=f"{username}@demo-planblanc.example", mobile_phone="+33639980077")

    # The regional officer opens the regional crisis, linking the CHU's.
    ars = browse(aid_site, **PHONE)
    log_in(ars, "ars.demo", two_factor=True)
    ars.goto("/entraide/region/")
    ars.page.fill("#id_title", "Cyberattaque du CHU de Belleval")
    submit(ars, "Open the regional crisis", "the new regional board")
    regional = RegionalCrisis.objects.get()
    assert list(regional.links.values_list("crisis_id", flat=True)) == [crisis.pk]

    # 1. The CHU's crisis cell asks its group from the console: 20 PCs and a responder.
    cell = browse(aid_site, **PHONE)
    log_in(cell, "cellule.chu")
    cell.goto(f"/crise/{crisis.pk}/")
    cell.page.get_by_role("link", name=fr("Ask for help")).click()
    cell.settle()
    for kind, what, quantity, urgency in (("equipment", "PC autonomes", "20", "urgent"),
                                          ("people", "Intervenant réponse à incident", "1", "immediate")):
        if kind == "people":
            cell.goto(f"/entraide/crise/{crisis.pk}/demande/")
        cell.page.select_option("#id_target_kind", "group")
        cell.page.select_option("#id_kind", kind)
        cell.page.fill("#id_what", what)
        cell.page.fill("#id_quantity", quantity)
        cell.page.select_option("#id_urgency", urgency)
        submit(cell, "Send the request", f"the request for {what}")
    pcs = HelpRequest.objects.get(what="PC autonomes")
    responder = HelpRequest.objects.get(what="Intervenant réponse à incident")
    assert pcs.target_group == chu.group and pcs.crisis == crisis

    # 2. The group CISO is alerted (a real email), and offers 12 PCs.
    call_command("alert_worker", "--once", "-v", "0")
    mails = [m for m in smtp.recorder.received if m.rcpt.startswith("rssi.ght@")]
    assert any("PC autonomes" in m.subject + m.body for m in mails), [m.subject for m in smtp.recorder.received]
    ciso = browse(aid_site, **PHONE)
    log_in(ciso, "rssi.ght", two_factor=True)
    ciso.goto("/entraide/")
    ciso.page.get_by_role("link", name="20 × PC autonomes").click()
    ciso.settle()
    ciso.page.fill("#id_quantity", "12")
    ciso.page.fill("#id_conditions", "Prêt 15 jours, convention GHT-2024-07")
    submit(ciso, "Send the offer", "the group's offer")

    # 3. The region offers 8 PCs and a CSIRT responder.
    for request, what, quantity in ((pcs, "PC autonomes", "8"), (responder, "CSIRT régional", "1")):
        ars.goto(f"/entraide/demandes/{request.pk}/")
        ars.page.select_option("#id_level", "region")
        ars.page.fill("#id_what", what)
        ars.page.fill("#id_quantity", quantity)
        submit(ars, "Send the offer", f"the region's offer of {what}")
    assert AidOffer.objects.count() == 3

    # 4. The CHU accepts both (and the responder), 5. deliveries are marked.
    for request in (pcs, responder):
        cell.goto(f"/entraide/demandes/{request.pk}/")
        while cell.page.locator("main").get_by_role("button", name=fr("Accept")).count():
            submit(cell, "Accept", "an accepted offer")
        while cell.page.locator("main").get_by_role("button", name=fr("Mark delivered")).count():
            submit(cell, "Mark delivered", "a delivery")
        expect(cell.page.locator("#ma-status")).to_contain_text(fr("Delivered"))
    assert set(AidOffer.objects.values_list("status", flat=True)) == {"delivered"}

    # The CHU's situation report, pre-filled, from the phone.
    cell.goto(f"/crise/{crisis.pk}/")
    cell.page.get_by_role("link", name=fr("Situation report")).click()
    cell.settle()
    cell.page.locator("label[for=id_ed_status_2]").click()  # diverted
    cell.page.fill("#id_beds_deprogrammed", "40")
    cell.page.fill("#id_surgeries_deprogrammed", "12")
    cell.page.check("#id_lab_on_paper")
    cell.page.fill("#id_patients_transferred", "6")
    cell.page.fill("#id_needs", "Imprimantes et formulaires papier")
    submit(cell, "Send the report", "the situation report")
    assert SituationReport.objects.get().ed_status == "diverted"

    # 6. The regional officer sees it all on the regional board.
    ars.goto(f"/entraide/region/{regional.pk}/")
    board = ars.page.locator("#ma-board")
    expect(board).to_contain_text("CHU de Belleval")
    expect(board).to_contain_text(fr("Diverted"))
    expect(board).to_contain_text("Imprimantes et formulaires papier")
    no_sideways_scroll(ars, 390, "the regional board")
    ars.goto(f"/entraide/region/{regional.pk}/main-courante/")
    logbook = ars.page.locator("main")
    expect(logbook).to_contain_text("GHT Belleval-Rivemont")  # the group's offer, in the regional logbook
    expect(logbook).to_contain_text("ARS de démonstration")
    ars.assert_clean("the regional logbook")
    texts = "\n".join(LogbookEntry.objects.filter(crisis=crisis).values_list("text", flat=True))
    assert "12 × PC autonomes" in texts and "8 × PC autonomes" in texts and "CSIRT régional" in texts

    # Every mutual-aid page at 360 px: no sideways scroll.
    pages = {
        cell: ["/entraide/", f"/entraide/crise/{crisis.pk}/demande/", f"/entraide/crise/{crisis.pk}/point/",
               f"/entraide/demandes/{pcs.pk}/", "/entraide/catalogue/", "/entraide/edxl/import/"],
        ciso: ["/entraide/catalogue/nouvelle/", "/entraide/catalogue/import/",
               f"/entraide/catalogue/{_first_resource_id()}/"],
        ars: ["/entraide/region/", f"/entraide/region/{regional.pk}/",
              f"/entraide/region/{regional.pk}/main-courante/", f"/entraide/demandes/{responder.pk}/"],
    }
    for watched, paths in pages.items():
        watched.page.set_viewport_size({"width": 360, "height": 780})
        for path in paths:
            watched.goto(path)
            watched.assert_clean(path)
            no_sideways_scroll(watched, 360, path)


def _first_resource_id() -> int:
    from planblanc.mutual_aid.models import Resource

    return Resource.objects.filter(group__isnull=False, establishment__isnull=True).order_by("pk").first().pk
