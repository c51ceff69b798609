"""The directory API: tokens and verified sessions, lists with filters and pagination,
writes that validate everything (422 with a message per field) and save nothing when
they refuse. Scoping for every persona is in tests/test_tenancy_matrix.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from planblanc.accounts.models import AuditEntry
from planblanc.directory.models import Department, Establishment, Membership, Person
from planblanc.directory.validators import finess_with_check_digit
from tests.conftest import verified_client
from tests.factories import MembershipFactory, PersonFactory
from tests.support.api import token_client

BASE = "/api/v1/directory"


def send(client: Client, method: str, path: str, payload: Any = None) -> Any:
    body = json.dumps(payload) if payload is not None else ""
    return getattr(client, method)(BASE + path, body, content_type="application/json")


@pytest.fixture
def national(world: Any) -> Client:
    return token_client(world.national_admin)


@pytest.fixture
def local(world: Any) -> Client:
    return token_client(world.establishment_admin)


# Authentication ------------------------------------------------------------------------------


def test_it_accepts_a_verified_session(world):
    response = verified_client(world.establishment_admin).get(BASE + "/me")
    assert response.status_code == 200
    assert response.json() == {"username": "establishment_admin", "roles": ["establishment_admin"]}


def test_it_refuses_a_session_write_without_the_csrf_token(world):
    client = verified_client(world.establishment_admin)
    client.handler.enforce_csrf_checks = True
    before = Department.objects.count()
    response = client.post(
        f"{BASE}/establishments/{world.chu.pk}/departments", json.dumps({"kind": "it", "name": "DSI"}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Department.objects.count() == before


def test_it_refuses_anonymous_calls(world):
    for path in ("/me", "/establishments", "/people", f"/people/{world.chu_person.pk}"):
        assert Client().get(BASE + path).status_code == 401


# Lists ------------------------------------------------------------------------------------------


def test_it_paginates_with_limit_and_offset(world, national):
    first = national.get(BASE + "/establishments?limit=2").json()
    second = national.get(BASE + "/establishments?limit=2&offset=2").json()
    assert first["count"] == second["count"] == 4
    names = [item["name"] for item in first["items"] + second["items"]]
    assert sorted(names) == sorted(["CHU A", "CH A", "EHPAD A", "Clinique B"])


def test_it_filters_establishments(world, national):
    def names(query: str) -> set[str]:
        return {item["name"] for item in national.get(BASE + "/establishments" + query).json()["items"]}

    assert names(f"?region_id={world.region_b.pk}") == {"Clinique B"}
    assert names("?category=ehpad") == {"EHPAD A"}
    assert names("?q=clinique") == {"Clinique B"}
    finess = world.chu.finess
    assert names(f"?q={finess[:2]} {finess[2:]}") == {"CHU A"}


def test_it_filters_people_and_shows_their_functions(world, national):
    items = national.get(f"{BASE}/people?establishment_id={world.ch.pk}").json()["items"]
    assert [item["last_name"] for item in items] == ["Chperson"]
    assert items[0]["memberships"] == [
        {"id": world.ch_person.memberships.get().pk, "establishment_id": world.ch.pk, "function": "staff",
         "department_id": None}
    ]


def test_the_people_list_costs_the_same_queries_for_many_people(world, national):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert national.get(BASE + "/people?limit=100").status_code == 200
        return len(captured)

    queries()  # the token's "last used" time is written on the first call only
    few = queries()
    for index in range(30):
        MembershipFactory(establishment=world.chu if index % 2 else world.clinic,
                          person=PersonFactory(last_name=f"Nombreux{index}"))
    assert queries() == few


# Writes -------------------------------------------------------------------------------------------


def test_it_creates_an_establishment_and_records_it(world, national):
    finess = finess_with_check_digit("69444444")
    response = send(national, "post", "/establishments", {
        "finess": f"{finess[:2]} {finess[2:5]} {finess[5:]}", "name": "CH Nouveau", "category": "ch",
        "region_id": world.region_a.pk, "group_id": world.group_a.pk, "switchboard_phone": "04 72 00 00 00",
    })
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["finess"] == finess
    assert data["switchboard_phone"] == "+33472000000"
    assert data["group_id"] == world.group_a.pk
    assert AuditEntry.objects.filter(action="establishment.create", object_id=str(data["id"]), via="api").exists()


def test_it_refuses_a_group_from_another_region(world, national):
    before = Establishment.objects.count()
    response = send(national, "post", "/establishments", {
        "finess": finess_with_check_digit("69444445"), "name": "Mal placé", "category": "ch",
        "region_id": world.region_b.pk, "group_id": world.group_a.pk,
    })
    assert response.status_code == 422
    assert response.json()["errors"]["group"] == ["This hospital group belongs to another region."]
    assert Establishment.objects.count() == before


def test_it_refuses_an_unknown_category_and_reports_every_field(world, national):
    response = send(national, "post", "/establishments", {
        "finess": "123", "name": "", "category": "castle", "region_id": world.region_a.pk,
    })
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {"finess", "name", "category"} <= set(errors)
    assert "9 characters" in errors["finess"][0]


def test_it_answers_422_to_a_malformed_body(world, national):
    response = national.post(BASE + "/establishments", "{not json", content_type="application/json")
    assert response.status_code in {400, 422}
    response = send(national, "post", "/establishments", {"name": "missing fields"})
    assert response.status_code == 422


def test_it_patches_only_the_given_fields(world, local):
    before = Establishment.objects.get(pk=world.chu.pk)
    response = send(local, "patch", f"/establishments/{world.chu.pk}", {"city": "Lyon"})
    assert response.status_code == 200
    after = Establishment.objects.get(pk=world.chu.pk)
    assert after.city == "Lyon"
    assert (after.name, after.finess, after.is_priority) == (before.name, before.finess, before.is_priority)
    entry = AuditEntry.objects.get(action="establishment.update", object_id=str(world.chu.pk))
    assert entry.changes == {"city": ["", "Lyon"]}


def test_it_creates_a_person_with_functions(world, local):
    response = send(local, "post", "/people", {
        "first_name": "Inès", "last_name": "Garnier", "email": "Ines.Garnier@Hopital.example",
        "mobile_phone": "06 39 98 55 55",
        "memberships": [{"establishment_id": world.chu.pk, "function": "ciso",
                         "department_id": world.chu_emergency.pk}],
    })
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["email"] == "ines.garnier@hopital.example"
    assert data["mobile_phone"] == "+33639985555"
    assert [(m["establishment_id"], m["function"], m["department_id"]) for m in data["memberships"]] == [
        (world.chu.pk, "ciso", world.chu_emergency.pk)
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"memberships": []}, "__all__", "at least one establishment"),
        ({"email": "CHUPERSON@x.example"}, "email", "Another person already uses this email address."),
        ({"mobile_phone": "06 12"}, "mobile_phone", "not a valid phone number"),
        ({"memberships": [{"establishment_id": 0, "function": "ciso"}]}, None, "Not found."),
    ],
    ids=["no establishment", "duplicate email", "bad phone", "unknown establishment"],
)
def test_it_refuses_a_bad_person_and_creates_nothing(world, local, change, field, message):
    Person.objects.filter(pk=world.chu_person.pk).update(email="chuperson@x.example")
    payload = {"first_name": "Inès", "last_name": "Garnier",
               "memberships": [{"establishment_id": world.chu.pk, "function": "ciso"}]} | change
    before = (Person.objects.count(), Membership.objects.count(), AuditEntry.objects.count())
    response = send(local, "post", "/people", payload)
    assert response.status_code in {404, 422}
    body = response.json()
    text = " ".join(body["errors"][field]) if field else body["detail"]
    assert message in text
    assert (Person.objects.count(), Membership.objects.count(), AuditEntry.objects.count()) == before


def test_it_refuses_a_department_of_another_establishment_in_a_function(world, national):
    before = Person.objects.count()
    response = send(national, "post", "/people", {
        "first_name": "A", "last_name": "B",
        "memberships": [{"establishment_id": world.chu.pk, "function": "staff",
                         "department_id": world.clinic_surgery.pk}],
    })
    assert response.status_code == 422
    assert response.json()["errors"]["department"] == ["This department belongs to another establishment."]
    assert Person.objects.count() == before


def test_it_refuses_an_unknown_function(world, local):
    response = send(local, "post", f"/people/{world.chu_person.pk}/memberships",
                    {"establishment_id": world.chu.pk, "function": "wizard"})
    assert response.status_code == 422
    assert "wizard" in response.json()["errors"]["function"][0]


def test_it_refuses_a_duplicate_department_name(world, local):
    response = send(local, "post", f"/establishments/{world.chu.pk}/departments",
                    {"kind": "emergency", "name": world.chu_emergency.name})
    assert response.status_code == 422
    assert Department.objects.filter(establishment=world.chu).count() == 1


def test_it_keeps_the_last_function_of_a_person(world, local):
    membership = world.chu_person.memberships.get()
    response = send(local, "delete", f"/memberships/{membership.pk}")
    assert response.status_code == 422
    assert "last function" in response.json()["errors"]["__all__"][0]
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_it_adds_then_removes_a_function(world, local):
    response = send(local, "post", f"/people/{world.chu_person.pk}/memberships",
                    {"establishment_id": world.chu.pk, "function": "crisis_cell"})
    assert response.status_code == 201
    added = response.json()["id"]
    assert send(local, "delete", f"/memberships/{added}").status_code == 204
    assert not Membership.objects.filter(pk=added).exists()
    assert list(AuditEntry.objects.filter(object_type="directory.membership").values_list("action", flat=True)) == [
        "membership.remove", "membership.add"
    ]


def test_it_deletes_a_person_and_says_nothing_more(world, local):
    response = send(local, "delete", f"/people/{world.chu_person.pk}")
    assert response.status_code == 204
    assert not Person.objects.filter(pk=world.chu_person.pk).exists()
    assert send(local, "get", f"/people/{world.chu_person.pk}").status_code == 404


def test_it_answers_404_to_ids_that_do_not_exist(world, national):
    for path in ("/establishments/999999", "/departments/999999", "/people/999999"):
        response = national.get(BASE + path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
