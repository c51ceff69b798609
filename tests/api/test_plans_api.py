# ruff: noqa: F811  (pytest fixtures imported from tests/plans/conftest.py)
"""The plan's API: same services and tenancy as the pages; bad input is a 422 with its
message; outsiders get 404 everywhere; read-only roles cannot write; versions never change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils.translation import gettext, override

from planblanc.accounts.models import AuditEntry
from planblanc.plans.models import (
    CriticalProcess,
    ExternalContact,
    Plan,
    PlanVersion,
    ReflexSheet,
    Resource,
    Seat,
)
from planblanc.plans.services import plan_approve
from tests.factories import PersonFactory

# The plan fixtures of tests/plans/conftest.py, reused here.
from tests.plans.conftest import complete_plan, director  # noqa: F401
from tests.support.api import token_client

BASE = "/api/v1/plans"


def fr(msgid: str, **params: Any) -> str:
    with override("fr"):
        text = gettext(msgid)
    return text % params if params else text


class Api:
    def __init__(self, user: Any) -> None:
        self.client = token_client(user, language=None)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        return getattr(self.client, method)(BASE + path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def api_for(world):  # type: ignore[no-untyped-def]
    def make(user_or_persona: Any) -> Api:
        user = world.users[user_or_persona] if isinstance(user_or_persona, str) else user_or_persona
        return Api(user)

    return make


def test_it_reads_the_plan_with_score_and_gaps(complete_plan, api_for):
    Seat.objects.filter(title="RSSI").update(holder=None)
    response = api_for("crisis_member").get(f"/{complete_plan.establishment_id}")
    assert response.status_code == 200
    body = response.json()
    assert 0 < body["score"] < 100
    assert body["blocking_count"] == 1
    assert any(gap["code"] == "seat_no_holder" and gap["severity"] == "blocking" for gap in body["gaps"])
    assert body["counts"]["seats"] == 2 and body["may_edit"] is False


def test_it_creates_updates_lists_and_deletes_each_part(complete_plan, api_for):
    api = api_for("establishment_admin")
    e = complete_plan.establishment_id
    payloads = {
        "seats": {"cell": "care", "title": "Cadre de santé", "holder_id": complete_plan.seats.first().holder_id},
        "alert_tree": {"order": 3, "to_seat_id": complete_plan.seats.first().pk, "means": "sms"},
        "reflex_sheets": {"title": "Fiche DPO", "owner_function": "dpo",
                          "items": [{"phase": "1h", "text": "Évaluer la fuite de données"}]},
        "degraded_procedures": {"department_kind": "emergency", "title": "Urgences sans DPI"},
        "critical_processes": {"name": "Biologie", "rto": "4 h", "max_tolerable_downtime": "1 j", "rpo": "PT1H"},
        "it_systems": {"name": "LIS", "criticality": 2, "vendor_contact_24_7": "01 99 00 01 28"},
        "contacts": {"kind": "police", "organisation": "Gendarmerie", "phone": "01 99 00 01 29"},
        "resources": {"kind": "radio", "location": "PC sécurité", "quantity": 4},
    }
    for part, payload in payloads.items():
        created = api.send("post", f"/{e}/parts/{part}", payload)
        assert created.status_code == 201, (part, created.json())
        item_id = created.json()["id"]
        listed = api.get(f"/{e}/parts/{part}").json()
        assert item_id in [row["id"] for row in listed], part
        assert api.get(f"/{e}/parts/{part}/{item_id}").status_code == 200
        patched = api.send("patch", f"/{e}/parts/{part}/{item_id}", {})
        assert patched.status_code == 200, (part, patched.json())
        assert api.send("delete", f"/{e}/parts/{part}/{item_id}").status_code == 204, part
    assert AuditEntry.objects.filter(action="plan.resource.delete").exists()


def test_it_parses_durations_and_phones_like_the_forms(complete_plan, api_for):
    api = api_for("establishment_admin")
    e = complete_plan.establishment_id
    body = api.send("post", f"/{e}/parts/critical_processes", {"name": "Pharmacie", "rto": "1h30"}).json()
    assert body["rto"] == "P0DT01H30M00S"
    process = CriticalProcess.objects.get(name="Pharmacie")
    assert process.rto.total_seconds() == 5400
    body = api.send("patch", f"/{e}/parts/contacts/{ExternalContact.objects.get(organisation='ARS').pk}",
                    {"phone_24_7": "01 99 00 01 30"}).json()
    assert body["phone_24_7"] == "+33199000130" and body["phone"] == "+33199000125"


def test_it_edits_the_cell_and_sets_ordered_deputies(complete_plan, api_for):
    api = api_for("group_ciso")
    e = complete_plan.establishment_id
    response = api.send("patch", f"/{e}/cell", {"meeting_place": "Salle B12", "bridge_phone": "01 99 00 01 31"})
    assert response.status_code == 200
    assert response.json()["cell"]["bridge_phone"] == "+33199000131"
    seat = Seat.objects.get(title="Directeur de crise")
    deputy = seat.deputies.first().person
    other = Seat.objects.get(title="RSSI").holder
    response = api.send("put", f"/{e}/seats/{seat.pk}/deputies", {"person_ids": [other.pk, deputy.pk]})
    assert response.status_code == 200
    assert [d["person_id"] for d in response.json()["deputies"]] == [other.pk, deputy.pk]


def test_it_approves_lists_reads_and_compares_versions(complete_plan, director, api_for):
    api = api_for(director)
    e = complete_plan.establishment_id
    response = api.send("post", f"/{e}/approve", {"note": "v1"})
    assert response.status_code == 201 and response.json()["number"] == 1
    ExternalContact.objects.filter(organisation="ARS").update(phone="+33199000999")
    assert api.send("post", f"/{e}/approve", {"note": "v2"}).status_code == 201
    assert [v["number"] for v in api.get(f"/{e}/versions").json()] == [2, 1]
    snapshot = api.get(f"/{e}/versions/1").json()["snapshot"]
    assert any(c["phone"] == "+33199000125" for c in snapshot["contacts"])
    compared = api.get(f"/{e}/compare", a="1", b="2").json()
    change = next(c for c in compared["changes"] if c["section"] == "contacts")
    assert change["change"] == "changed" and change["fields"]["phone"] == ["+33199000125", "+33199000999"]
    assert compared["right_approved_by"] == director.get_full_name() or director.get_username()


def test_it_refuses_approval_by_someone_who_is_not_the_director(complete_plan, api_for):
    response = api_for("establishment_admin").send("post", f"/{complete_plan.establishment_id}/approve", {})
    assert response.status_code == 403
    assert response.json()["detail"] == fr(
        "Only the director of the establishment or a deputy director may approve its plan."
    )
    assert not PlanVersion.objects.exists()


def test_it_refuses_approval_with_the_blocking_gaps_listed(complete_plan, director, api_for):
    ExternalContact.objects.filter(kind="cert_sante").delete()
    response = api_for(director).send("post", f"/{complete_plan.establishment_id}/approve", {})
    assert response.status_code == 422
    messages = response.json()["errors"]["__all__"]
    assert fr("No way to reach CERT Santé (phone or email).") in messages
    assert not PlanVersion.objects.exists()


def test_it_never_changes_a_published_version(complete_plan, director, api_for):
    version = plan_approve(actor=director, plan=complete_plan)
    sha = version.snapshot_sha256
    api = api_for(director)
    for method in ("patch", "put", "delete"):
        response = api.send(method, f"/{complete_plan.establishment_id}/versions/1", {"note": "changé"})
        assert response.status_code == 409
        assert response.json()["detail"] == fr(
            "An approved version cannot be changed: edit the draft and have it approved again."
        )
    version = PlanVersion.objects.get()
    assert version.snapshot_sha256 == sha and version.note == ""


@pytest.mark.parametrize("persona", ["crisis_member", "auditor", "regional_officer", "exercise_animator"])
def test_it_refuses_writes_from_read_only_roles(complete_plan, api_for, persona):
    api = api_for(persona)
    e = complete_plan.establishment_id
    contact = ExternalContact.objects.first()
    seat = Seat.objects.first()
    audit_count = AuditEntry.objects.count()
    assert api.get(f"/{e}").status_code == 200
    assert api.send("patch", f"/{e}/cell", {"meeting_place": "x"}).status_code == 403
    assert api.send("post", f"/{e}/parts/contacts", {"kind": "other", "organisation": "x"}).status_code == 403
    assert api.send("patch", f"/{e}/parts/contacts/{contact.pk}", {"organisation": "x"}).status_code == 403
    assert api.send("delete", f"/{e}/parts/contacts/{contact.pk}").status_code == 403
    assert api.send("put", f"/{e}/seats/{seat.pk}/deputies", {"person_ids": []}).status_code == 403
    assert api.send("post", f"/{e}/approve", {}).status_code == 403
    assert AuditEntry.objects.count() == audit_count
    complete_plan.refresh_from_db()
    assert complete_plan.meeting_place == "Salle de crise, bâtiment A"
    assert ExternalContact.objects.filter(pk=contact.pk, organisation=contact.organisation).exists()
    assert seat.deputies.exists()


def test_it_gives_the_outsider_a_404_on_every_endpoint(complete_plan, director, api_for):
    plan_approve(actor=director, plan=complete_plan)
    api = api_for("outsider_admin")
    e = complete_plan.establishment_id
    seat = Seat.objects.first()
    contact = ExternalContact.objects.first()
    calls = [
        ("get", f"/{e}", None), ("post", f"/{e}", None), ("patch", f"/{e}/cell", {"meeting_place": "x"}),
        ("post", f"/{e}/approve", {}), ("get", f"/{e}/versions", None), ("get", f"/{e}/versions/1", None),
        ("patch", f"/{e}/versions/1", {}), ("get", f"/{e}/compare?a=1&b=draft", None),
        ("put", f"/{e}/seats/{seat.pk}/deputies", {"person_ids": []}),
        ("post", f"/{e}/parts/contacts", {"kind": "other", "organisation": "x"}),
        ("get", f"/{e}/parts/contacts/{contact.pk}", None),
        ("patch", f"/{e}/parts/contacts/{contact.pk}", {"organisation": "x"}),
        ("delete", f"/{e}/parts/contacts/{contact.pk}", None),
    ] + [("get", f"/{e}/parts/{part}", None) for part in (
        "seats", "alert_tree", "reflex_sheets", "degraded_procedures", "critical_processes", "it_systems",
        "contacts", "resources",
    )]
    counts = (ExternalContact.objects.count(), PlanVersion.objects.count(), AuditEntry.objects.count())
    for method, path, body in calls:
        response = api.get(path) if method == "get" else api.send(method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
    assert (ExternalContact.objects.count(), PlanVersion.objects.count(), AuditEntry.objects.count()) == counts
    listed = api.get("/").json()
    assert complete_plan.establishment_id not in [row["establishment_id"] for row in listed]


def test_it_refuses_a_part_of_another_plan_and_a_person_of_another_establishment(complete_plan, api_for, world):
    other = Plan.objects.create(establishment=world.clinic)
    foreign = Resource.objects.create(plan=other, kind="radio", location="Clinique")
    api = api_for("establishment_admin")
    e = complete_plan.establishment_id
    assert api.get(f"/{e}/parts/resources/{foreign.pk}").status_code == 404
    response = api.send("post", f"/{e}/parts/seats", {"cell": "care", "title": "x",
                                                       "holder_id": world.clinic_person.pk})
    assert response.status_code == 422 and "holder" in response.json()["errors"]
    stranger = PersonFactory()
    seat = Seat.objects.first()
    response = api.send("put", f"/{e}/seats/{seat.pk}/deputies", {"person_ids": [stranger.pk]})
    assert response.status_code == 422
    assert not Seat.objects.filter(title="x").exists()


def test_it_lists_plans_in_scope(complete_plan, api_for, world):
    rows = api_for("regional_officer").get("/", sort="-score").json()
    ids = [row["establishment_id"] for row in rows]
    assert ids[0] == complete_plan.establishment_id
    assert set(ids) == {world.chu.pk, world.ch.pk, world.ehpad.pk}


def test_it_starts_a_plan_from_the_template(world, api_for):
    response = api_for("establishment_admin").send("post", f"/{world.chu.pk}")
    assert response.status_code == 201
    assert Plan.objects.filter(establishment=world.chu).exists()
    assert api_for("crisis_member").send("post", f"/{world.chu.pk}").status_code == 403
    assert ReflexSheet.objects.filter(plan__establishment=world.chu).count() >= 0
