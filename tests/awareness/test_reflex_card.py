"""The pocket reflex card: an A6 PDF made from the approved plan (first reflexes, the
numbers to call, the meeting place), refused before any approval and out of scope."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest
from django.urls import reverse
from django.utils import timezone

from planblanc.awareness.services import reflex_card_context
from planblanc.plans.models import Plan, PlanVersion

pytestmark = pytest.mark.django_db

SNAPSHOT = {
    "establishment": {"name": "CHU A", "switchboard_phone": "+33639980001"},
    "cell": {"meeting_place": "Salle du conseil, bâtiment B", "fallback_place": "Self du personnel",
             "bridge_phone": "+33639980002", "bridge_code": "4321"},
    "seats": [{"title": "RSSI", "function": "ciso", "holder": {"mobile_phone": "+33639980003"}}],
    "reflex_sheets": [],
    "contacts": [{"kind": "cert_sante", "organisation": "CERT Santé", "phone_24_7": "+33639980004"}],
}


def test_the_card_reads_the_approved_plan() -> None:
    card = reflex_card_context(snapshot=SNAPSHOT)
    assert card["meeting_place"] == "Salle du conseil, bâtiment B"
    phones = dict(card["numbers"])
    assert phones["RSSI"] == "+33639980003" and phones["CERT Santé"] == "+33639980004"
    assert len(card["reflexes"]) == 5
    own = dict(SNAPSHOT, reflex_sheets=[{"owner_function": "staff", "items": [
        {"phase": "15min", "text": "Appeler le 5555"}, {"phase": "1h", "text": "Plus tard"}]}])
    assert reflex_card_context(snapshot=own)["reflexes"] == ["Appeler le 5555"]


def test_the_card_is_an_a6_pdf_and_the_outsider_gets_404(world: Any, client_for: Any) -> None:
    url = reverse("awareness:reflex_card", args=[world.chu.pk])
    admin = client_for("establishment_admin")
    plan = Plan.objects.create(establishment=world.chu)
    assert admin.get(url).status_code == 302  # no approved version yet: back to the page, with the reason
    PlanVersion.objects.create(plan=plan, number=1, snapshot=SNAPSHOT, snapshot_sha256="0" * 64,
                               approved_at=timezone.now(), approved_by_label="Directrice")
    response = admin.get(url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    pages = pypdf.PdfReader(io.BytesIO(response.content)).pages
    assert len(pages) == 1
    assert (round(float(pages[0].mediabox.width) / 72 * 25.4), round(float(pages[0].mediabox.height) / 72 * 25.4)) == (105, 148)
    text = pages[0].extract_text()
    assert "Salle du conseil" in text and "+33639980004" in text.replace(" ", "")
    assert client_for("outsider_admin").get(url).status_code == 404
