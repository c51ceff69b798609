"""The crisis journey in a real browser, on the demo and on a phone: the director declares,
the crisis cell's alert arrives in a local SMTP server (aiosmtpd) with the bridge details
and is acknowledged by its link, logbook entries are added and seen live by another
member of the cell without reloading, a task is completed, a department goes to degraded
mode, and the logbook is exported with its head hash."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import Crisis, CrisisTask, DepartmentStatus, LogbookEntry
from tests.browser.support import PHONE, fr, log_in
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.browser



def crisis_site_screens() -> Any:
    """Where the screenshots of the phone pages go (the data directory of the run)."""
    from pathlib import Path

    from django.conf import settings

    path = Path(settings.DATA_DIR) / "screens"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def crisis_site(site: str, smtp: SmtpServer, settings: Any, transactional_db: Any) -> Iterator[str]:
    """The demo site, its alerts sent to the local SMTP server, links pointing to it; the
    logbook's triggers are lifted at the end so that the test database can be wiped."""
    from django.db import connection

    from planblanc.crisis.db_guards import purge_logbook_for_tests

    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    settings.ALERTING_PUBLIC_URL = site
    yield site
    purge_logbook_for_tests(connection)




def test_it_walks_the_crisis_path_on_a_phone(crisis_site: str, browse: Any, smtp: SmtpServer) -> None:
    director = browse(crisis_site, **PHONE)
    page = director.page
    log_in(director, "directeur.chu")

    # The menu's Crisis entry, then the CHU's crisis page.
    page.locator(".navbar-toggler").click()
    page.locator("#pb-nav").get_by_role("link", name=fr("Crisis"), exact=True).click()
    director.settle()
    director.assert_clean("the crisis index")
    page.locator("main .list-group a").first.click()
    director.settle()
    expect(page.locator("#declare-title")).to_be_visible()
    director.assert_clean("the establishment's crisis page")

    # Declare.
    page.select_option("#id_kind", "ransomware")
    page.select_option("#id_severity", "critical")
    page.fill("#id_first_facts", "Écrans de rançon sur les postes des urgences à 3 h 05.")
    page.get_by_role("button", name=fr("Declare the crisis")).click()
    director.settle()
    crisis = Crisis.objects.get()
    assert page.url.rstrip("/").endswith(f"/crise/{crisis.pk}")
    expect(page.locator("#crisis-head code")).to_have_text(crisis.head_hash)
    expect(page.locator(".pb-console-nav a").first).to_be_visible()
    director.assert_clean("the console after the declaration")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, "the console scrolls sideways"

    # The crisis cell's alert: the worker sends it, it arrives with the bridge details.
    call_command("alert_worker", "--once", "-v", "0")
    assert smtp.recorder.received, "no alert email"
    # The demo's awareness invitations share the outbox; the alert goes first, being urgent.
    mail = smtp.recorder.received[0]
    assert "482916" in mail.body and "Salle de crise" in mail.body and "Écrans de rançon" in mail.body
    link = re.search(r"https?://\S+/ack/\S+/", mail.body)
    assert link, mail.body
    member_phone = browse(crisis_site, **PHONE)
    member_phone.page.goto(link.group(0))
    member_phone.settle()
    # The light acknowledgement page repeats the meeting place and asks who is coming.
    assert "Salle de crise" in member_phone.page.content()
    member_phone.page.set_viewport_size({"width": 360, "height": 780})
    assert member_phone.page.evaluate("document.documentElement.scrollWidth") <= 360 + 1
    member_phone.page.screenshot(path=str(crisis_site_screens() / "ack-360.png"), full_page=True)
    member_phone.page.fill("input[name=minutes]", "15")
    member_phone.page.get_by_role("button", name=fr("I am coming")).click()
    member_phone.settle()
    expect(member_phone.heading()).to_have_text(fr("Acknowledged, thank you"))
    member_phone.assert_clean("the acknowledgement")

    # The director sees it on the cell board, on a phone, with a call button per person.
    crisis = Crisis.objects.order_by("-id").first()
    director.goto(reverse("crisis:cell_board", args=[crisis.pk]))
    director.settle()
    director.assert_clean("the cell board")
    expect(page.locator('#cell-board [data-state="coming"]').first).to_be_visible()
    assert page.locator('#cell-board a[href^="tel:"]').count() >= 2
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1, "the cell board scrolls sideways"
    page.screenshot(path=str(crisis_site_screens() / "cell-board-360.png"), full_page=True)
    page.set_viewport_size(PHONE["viewport"])
    director.goto(reverse("crisis:console", args=[crisis.pk]))
    director.settle()

    # Another member of the cell follows the console live.
    member = browse(crisis_site)
    log_in(member, "cellule.chu")
    member.goto(f"/crise/{crisis.pk}/")
    member.assert_clean("the member's console")

    # Logbook entries.
    for text in ("Serveurs de fichiers isolés du réseau.", "Appel au CERT Santé passé."):
        page.fill("#id_text", text)
        page.get_by_role("button", name=fr("Add the entry")).click()
        director.settle()
        expect(page.locator("#crisis-logbook")).to_contain_text(text)
    expect(member.page.locator("#crisis-logbook")).to_contain_text("Appel au CERT Santé passé.", timeout=6_000)
    director.assert_clean("the console after two entries")

    # Complete a task, from the tasks section.
    page.locator(".pb-console-nav").get_by_role("link", name=fr("All tasks")).click()
    expect(page.locator("#crisis-tasks")).to_be_visible()
    task = CrisisTask.objects.filter(crisis=crisis).order_by("due_at", "order", "id").first()
    page.locator(f"#task-{task.pk}").get_by_role("button", name=fr("Done")).click()
    expect(page.locator("#pb-toast")).to_have_text(fr("Task done."))
    task.refresh_from_db()
    assert task.status == "done"
    expect(member.page.locator("#crisis-logbook")).to_contain_text(task.title, timeout=6_000)

    # A department goes to degraded mode, from the status board.
    page.locator(".pb-console-nav").get_by_role("link", name=fr("Status board")).click()
    expect(page.locator("#crisis-status")).to_be_visible()
    row = DepartmentStatus.objects.filter(crisis=crisis).first()
    page.locator(f"#department-{row.pk}").get_by_role("button", name=fr("Degraded mode")).click()
    expect(page.locator("#pb-toast")).to_contain_text(row.name)
    row.refresh_from_db()
    assert row.status == "degraded" and row.history.count() == 1
    expect(page.locator(f"#department-{row.pk}")).to_contain_text(fr("Degraded mode"))
    expect(member.page.locator("#crisis-logbook")).to_contain_text(row.name, timeout=6_000)
    # Live updates add only the new entries: each once, newest first.
    # (Background work may append entries meanwhile: compare with the chain as it is.)
    deadline = time.monotonic() + 8
    while True:
        crisis.refresh_from_db()
        ids = member.page.locator("#crisis-logbook-list > li").evaluate_all("items => items.map(i => i.id)")
        if len(ids) == crisis.head_seq or time.monotonic() > deadline:
            break
        member.page.wait_for_timeout(250)
    assert len(ids) == len(set(ids)) == crisis.head_seq, ids
    assert ids[0] == f"entry-{crisis.head_seq}", ids
    member.assert_clean("the member's console after live updates")
    director.assert_clean("the console after the status change")

    # Export the logbook: the PDF and the JSON carry the head hash shown on screen.
    page.locator(".pb-console-nav").get_by_role("link", name=fr("Logbook")).click()
    expect(page.locator("#crisis-logbook")).to_be_visible()
    crisis.refresh_from_db()
    expect(page.locator("#crisis-head code")).to_have_text(crisis.head_hash)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF", exact=True).click()
    pdf = download_info.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="JSON", exact=True).click()
    assert crisis.head_hash in download_info.value.path().read_text(encoding="utf-8")
    director.assert_clean("the exports")

    # The CNIL notification, pre-filled from the crisis, from its clock on the console.
    page.locator(".pb-console-nav").get_by_role("link", name=fr("Notifications")).click()
    expect(page.locator("#crisis-notifications")).to_be_visible()
    form_url = reverse("crisis:notification_form", args=[crisis.pk, "cnil"])
    follow = page.locator(f"#crisis-notifications a[href='{form_url}']").first
    follow.click()
    page.wait_for_url(f"**{form_url}")
    director.settle()
    with page.expect_download() as download_info:
        page.locator("main").get_by_role("link", name="PDF", exact=True).click()
    assert download_info.value.path().read_bytes().startswith(b"%PDF")
    with page.expect_download() as download_info:
        page.locator("main").get_by_role("link", name="JSON", exact=True).click()
    cnil = json.loads(download_info.value.path().read_text(encoding="utf-8"))
    assert crisis.establishment.finess in json.dumps(cnil, ensure_ascii=False)
    assert "CHU de Belleval" in json.dumps(cnil, ensure_ascii=False)
    director.assert_clean("the CNIL notification")

    crisis.refresh_from_db()  # every export is written in the logbook too
    assert logbook_verify(crisis).ok
    assert LogbookEntry.objects.filter(crisis=crisis).count() == crisis.head_seq >= 6
