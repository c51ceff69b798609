"""At 360 px wide: a regional chronogramme (a time with a note, DEBEX/FINEX markers, a
misspelled "Stmulis" header, a state column) read in the import preview, which names
the column recognised by closeness and marks the excluded rows. No sideways scroll."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

NARROW = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def test_the_import_preview_of_a_regional_file_fits_a_narrow_phone(site: str, browse: Any, screenshots: Any,
                                                                   tmp_path: Any) -> None:
    from planblanc.accounts.models import User
    from planblanc.directory.models import Establishment
    from planblanc.exercises.services import exercise_create
    from tests.conftest import verified_client
    from tests.exercises.test_chronogramme_real_files import regional_file

    director = User.objects.get(username="animateur.chu")
    establishment = Establishment.objects.get(name="CHU de Belleval")
    exercise = exercise_create(actor=director, establishment=establishment, title="Exercice régional")
    upload = tmp_path / "chrono-ght.xlsx"
    upload.write_bytes(regional_file())
    phone = browse(site, **NARROW)
    client = verified_client(director)
    phone.page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": site,
                                     "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    page = phone.page
    phone.goto(reverse("exercises:import_upload", args=[exercise.pk]))
    page.set_input_files("input[type=file]", str(upload))
    page.locator("main form button[type=submit]").last.click()
    phone.settle()
    expect(page.locator("#fuzzy-headers")).to_contain_text("Stmulis")
    expect(page.locator("main table tbody tr")).to_have_count(5)
    expect(page.locator("main table .badge")).to_have_count(2)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= 360, width
    page.screenshot(path=str(screenshots / "chronogramme-import-360.png"), full_page=True)
    phone.assert_clean("chronogramme import preview")
