"""The offline bundle opens from the file system in a real browser (as from a USB key):
no server, no script, nothing fetched from the network, readable on a phone."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from planblanc.directory.validators import phone_display
from planblanc.plans.exports import kit_meta, offline_bundle_zip
from planblanc.plans.models import Plan, Seat
from planblanc.plans.services import plan_approve
from tests.browser.support import PHONE, Watched
from tests.plans import conftest as plan_fixtures

pytestmark = pytest.mark.browser
# The complete plan of the plan tests (its conftest is not above this folder).
director = plan_fixtures.director
complete_plan = plan_fixtures.complete_plan

SECTIONS = {
    "cellule": "Cellule de crise",
    "alerte": "Arbre d'alerte",
    "fiches": "Fiches réflexes",
    "modes-degrades": "Procédures dégradées",
    "continuite": "Continuité et reprise",
    "systemes": "Systèmes d'information et sauvegardes",
    "contacts": "Contacts externes",
    "ressources": "Ressources du mode dégradé",
}


@pytest.fixture
def unzipped(chromium: Any, complete_plan: Plan, director: Any, tmp_path: Path) -> Path:
    """The bundle of approved version 1, unzipped as it would be on a USB key."""
    version = plan_approve(actor=director, plan=complete_plan)
    meta = kit_meta(plan=complete_plan, version=version, printed_by="Diane")
    bundle = offline_bundle_zip(document=version.snapshot, meta=meta)
    folder = tmp_path / "cle usb"  # a space in the path, as on many USB keys
    zipfile.ZipFile(io.BytesIO(bundle)).extractall(folder)
    return folder


def open_index(browse: Any, folder: Path, **options: Any) -> tuple[Watched, list[str]]:
    watched = browse("file://", **options)
    requests: list[str] = []
    watched.page.on("request", lambda request: requests.append(request.url))
    response = watched.page.goto((folder / "index.html").as_uri())
    assert response is not None and response.ok
    watched.page.wait_for_load_state("load")
    return watched, requests


def test_it_opens_from_the_file_system_with_every_section(browse: Any, unzipped: Path, complete_plan: Plan) -> None:
    watched, requests = open_index(browse, unzipped)
    page = watched.page
    expect(page.locator("h1")).to_have_text(complete_plan.establishment.name)
    expect(page.locator(".version")).to_contain_text("Version 1")
    for anchor, heading in SECTIONS.items():
        expect(page.locator(f"#{anchor} > h2.part-title")).to_contain_text(heading)
    holder = Seat.objects.select_related("holder").get(plan=complete_plan, title="RSSI").holder
    roster = page.locator("#cellule")
    expect(roster.get_by_text(holder.full_name, exact=True).first).to_be_visible()
    expect(roster.get_by_text(phone_display(holder.mobile_phone)).first).to_be_visible()
    expect(page.locator("#fiches")).to_contain_text("Fiche RSSI")

    # Section links work without a script: the target comes into view.
    page.locator("#sommaire a[href='#fiches']").click()
    assert page.url.endswith("#fiches")
    expect(page.locator("#fiches > h2.part-title")).to_be_in_viewport()
    page.locator("#sommaire a[href^='#fiche-']").first.click()
    expect(page.locator("#fiche-1 h2")).to_be_in_viewport()

    # The PDF is next to the page, under the name the link gives.
    link = page.locator("a.pdf-link")
    expect(link).to_have_attribute("href", "kit-papier-v1.pdf")
    assert (unzipped / "kit-papier-v1.pdf").read_bytes().startswith(b"%PDF-")
    assert page.locator("script").count() == 0
    # Nothing but the bundle's own files was asked for.
    assert requests and all(url.startswith("file://") for url in requests), requests
    assert any(url.endswith("/style.css") for url in requests)
    watched.assert_clean("the offline bundle")


def test_it_is_readable_on_a_phone(browse: Any, unzipped: Path) -> None:
    watched, _requests = open_index(browse, unzipped, **PHONE)
    page = watched.page
    expect(page.locator("#cellule > h2.part-title")).to_be_visible()
    # No sideways scrolling: tables become one card per row.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, overflow
    # The stylesheet from the zip was applied (column names shown before each value).
    label = page.evaluate(
        "getComputedStyle(document.querySelector('#cellule td[data-label]'), '::before').content"
    )
    assert "Rang" in label or "Nom" in label, label
    watched.assert_clean("the offline bundle on a phone")
