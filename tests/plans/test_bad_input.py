"""Bad input on the plan, through the pages and the API: each case refused with its
message in the user's language (French first), and nothing half-saved."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext, override

from planblanc.accounts.models import AuditEntry
from planblanc.directory.validators import phone_normalize
from planblanc.plans.durations import duration_parse
from planblanc.plans.models import (
    CriticalProcess,
    ExternalContact,
    PlanVersion,
    ReflexItem,
    ReflexSheet,
)
from planblanc.plans.services import plan_approve
from tests.conftest import verified_client
from tests.support.api import token_client


def fr(msgid: str, **params: Any) -> str:
    with override("fr"):
        text = gettext(msgid)
    return text % params if params else text


def fr_error(call: Any, raw: str) -> str:
    """The validator's own message for `raw`, in French."""
    with override("fr"), pytest.raises(ValidationError) as caught:
        call(raw)
    return caught.value.messages[0]


def api(user: Any) -> Client:
    return token_client(user, language=None)


def send(client: Client, method: str, path: str, body: Any) -> Any:
    return getattr(client, method)(f"/api/v1/plans{path}", data=json.dumps(body), content_type="application/json")


def counts() -> tuple[int, ...]:
    return (
        ReflexSheet.objects.count(), ReflexItem.objects.count(), CriticalProcess.objects.count(),
        ExternalContact.objects.count(), PlanVersion.objects.count(),
        AuditEntry.objects.filter(action__startswith="plan.").count(),
    )


def sheet_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Fiche accueil", "owner_function": "", "owner_seat": "", "purpose": "", "order": 1,
        "items-TOTAL_FORMS": 2, "items-INITIAL_FORMS": 0, "items-MIN_NUM_FORMS": 0, "items-MAX_NUM_FORMS": 1000,
        "items-0-phase": "15min", "items-0-text": "Fermer les accès", "items-0-becomes_task": "on",
        "items-1-phase": "1h", "items-1-text": "Informer les familles", "items-1-becomes_task": "on",
        "action": "save",
    }
    data.update(overrides)
    return data


def test_it_refuses_a_reflex_sheet_without_a_role(complete_plan, client_for, world):
    before = counts()
    page = client_for("establishment_admin").post(
        reverse("plans:reflex_sheet_add", args=[complete_plan.establishment_id]), sheet_form()
    )
    assert page.status_code == 422
    assert escape(fr("A reflex sheet needs the role that runs it.")) in page.content.decode()
    response = send(api(world.establishment_admin), "post", f"/{complete_plan.establishment_id}/parts/reflex_sheets",
                    {"title": "Fiche accueil", "items": [{"phase": "1h", "text": "Informer"}]})
    assert response.status_code == 422
    assert response.json()["errors"]["owner_function"] == [fr("A reflex sheet needs the role that runs it.")]
    assert counts() == before


def test_it_refuses_a_sheet_whose_one_action_is_bad_and_keeps_the_old_sheet(complete_plan, client_for, world):
    sheet = ReflexSheet.objects.get(title="Fiche RSSI")
    old_items = list(sheet.items.values_list("text", flat=True))
    before = counts()
    page = client_for("establishment_admin").post(
        reverse("plans:reflex_sheet_edit", args=[complete_plan.establishment_id, sheet.pk]),
        sheet_form(title="Fiche RSSI modifiée", owner_function="ciso", **{"items-1-phase": "demain"}),
    )
    assert page.status_code == 422
    response = send(api(world.establishment_admin), "patch",
                    f"/{complete_plan.establishment_id}/parts/reflex_sheets/{sheet.pk}",
                    {"title": "Fiche RSSI modifiée", "items": [{"phase": "1h", "text": "x"}, {"phase": "demain",
                                                                                             "text": "y"}]})
    assert response.status_code == 422
    assert response.json()["errors"]["items"][0].startswith(fr("Action %(n)d: %(error)s", n=2, error="")[:8])
    sheet.refresh_from_db()
    assert sheet.title == "Fiche RSSI"
    assert list(sheet.items.values_list("text", flat=True)) == old_items
    assert counts() == before


def test_it_refuses_an_rto_that_is_not_a_duration(complete_plan, client_for, world):
    expected = fr_error(duration_parse, "bientôt")
    before = counts()
    page = client_for("establishment_admin").post(
        reverse("plans:part_add", args=[complete_plan.establishment_id, "processus"]),
        {"name": "Admissions", "rto": "bientôt", "max_tolerable_downtime": "4 h"},
    )
    assert page.status_code == 422
    assert escape(expected) in page.content.decode()
    response = send(api(world.establishment_admin), "post",
                    f"/{complete_plan.establishment_id}/parts/critical_processes", {"name": "Admissions",
                                                                                   "rto": "bientôt"})
    assert response.status_code == 422 and response.json()["errors"]["rto"] == [expected]
    process = CriticalProcess.objects.get(name="Prise en charge aux urgences")
    response = send(api(world.establishment_admin), "patch",
                    f"/{complete_plan.establishment_id}/parts/critical_processes/{process.pk}", {"rpo": "3 lunes"})
    assert response.status_code == 422
    process.refresh_from_db()
    assert process.rpo.total_seconds() == 3600
    assert counts() == before


def test_it_refuses_a_contact_with_an_invalid_phone(complete_plan, client_for, world):
    expected = fr_error(phone_normalize, "01 23")
    before = counts()
    page = client_for("establishment_admin").post(
        reverse("plans:part_add", args=[complete_plan.establishment_id, "contacts"]),
        {"kind": "police", "organisation": "Gendarmerie", "phone": "01 23", "order": 1},
    )
    assert page.status_code == 422
    assert escape(expected) in page.content.decode()
    contact = ExternalContact.objects.get(organisation="ARS")
    response = send(api(world.establishment_admin), "patch",
                    f"/{complete_plan.establishment_id}/parts/contacts/{contact.pk}",
                    {"phone": "01 23", "notes": "changé"})
    assert response.status_code == 422 and response.json()["errors"]["phone"] == [expected]
    contact.refresh_from_db()
    assert contact.phone == "+33199000125" and contact.notes == ""
    assert counts() == before


def test_it_refuses_approval_by_someone_without_the_right(complete_plan, client_for, world):
    message = fr("Only the director of the establishment or a deputy director may approve its plan.")
    before = counts()
    for persona in ("establishment_admin", "group_ciso", "crisis_member"):
        page = client_for(persona).post(reverse("plans:approve", args=[complete_plan.establishment_id]),
                                        {"note": "essai"})
        assert page.status_code == 403
        assert escape(message) in page.content.decode()
        response = send(api(world.users[persona]), "post", f"/{complete_plan.establishment_id}/approve",
                        {"note": "essai"})
        assert response.status_code == 403 and response.json()["detail"] == message
    assert counts() == before


def test_it_refuses_to_edit_a_published_version(complete_plan, director):
    version = plan_approve(actor=director, plan=complete_plan)
    before = counts()
    e = complete_plan.establishment_id
    client = verified_client(director)
    assert client.post(reverse("plans:version", args=[e, version.number]), {"note": "x"}).status_code == 405
    response = send(api(director), "patch", f"/{e}/versions/{version.number}", {"note": "changé"})
    assert response.status_code == 409
    assert response.json()["detail"] == fr(
        "An approved version cannot be changed: edit the draft and have it approved again."
    )
    version.note = "changé"
    with pytest.raises(PermissionError):
        version.save()
    assert PlanVersion.objects.get().note == ""
    assert counts() == before


def test_it_says_which_field_is_unknown_in_the_api(complete_plan, world):
    response = send(api(world.establishment_admin), "post", f"/{complete_plan.establishment_id}/parts/contacts",
                    {"kind": "police", "organisation": "Gendarmerie", "telephone": "0199000129"})
    assert response.status_code == 422
    assert response.json()["errors"]["telephone"] == [fr("Unknown field.")]
