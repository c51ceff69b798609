"""A person who works in two tenants is one record: only someone with scope over every
establishment they belong to may change how to reach them; writes are audited under each
establishment; a role is never attached to another tenant's login; answers do not tell
whether a login exists elsewhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from planblanc.accounts.models import AuditEntry, RoleAssignment, User
from planblanc.accounts.services import api_token_create
from planblanc.directory.models import ImportBatch, Membership, Person
from planblanc.tenancy import Role
from tests.directory.import_helpers import csv_bytes
from tests.factories import MembershipFactory, PersonFactory


def token_client(user: Any, language: str = "en") -> Client:
    _token, key = api_token_create(actor=user, name="api tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE=language)


@pytest.fixture
def director(world: Any) -> Person:
    """The CHU's director, who also works at the clinic of another region."""
    person = world.chu_person
    person.email, person.mobile_phone = "directeur@chu-a.example", "+33639980001"
    person.save()
    MembershipFactory(establishment=world.clinic, person=person, function="director")
    return person


def patch(client: Client, path: str, payload: Any) -> Any:
    return client.patch(path, data=json.dumps(payload), content_type="application/json")


def test_the_clinic_cannot_redirect_the_chu_directors_alerts_through_the_api(world: Any, director: Person) -> None:
    client = token_client(world.outsider_admin)
    response = patch(client, f"/api/v1/directory/people/{director.pk}",
                     {"email": "attaquant@example.org", "mobile_phone": "06 39 98 99 99"})
    assert response.status_code == 403
    assert "national administrator" in response.json()["detail"]
    director.refresh_from_db()
    assert (director.email, director.mobile_phone) == ("directeur@chu-a.example", "+33639980001")
    assert not AuditEntry.objects.filter(action="person.update").exists()


def test_the_refusal_through_the_page_names_who_can_make_the_change(
    world: Any, director: Person, client_for: Any
) -> None:
    client = client_for("outsider_admin")
    response = client.post(reverse("directory:person_edit", args=[director.pk]), {
        "first_name": director.first_name, "last_name": director.last_name, "email": "attaquant@example.org",
        "mobile_phone": "", "landline_phone": "", "job_title": "", "preferred_language": "fr",
    })
    assert response.status_code == 200
    body = response.content.decode()
    assert "administrateur national" in body
    assert "CHU A" not in body  # the establishments outside the clinic's scope are not named
    director.refresh_from_db()
    assert director.email == "directeur@chu-a.example"


def test_someone_with_scope_over_both_changes_it_audited_under_each(world: Any, director: Person) -> None:
    client = token_client(world.national_admin)
    response = patch(client, f"/api/v1/directory/people/{director.pk}", {"email": "nouveau@chu-a.example"})
    assert response.status_code == 200
    entries = AuditEntry.objects.filter(action="person.update", object_id=str(director.pk))
    assert {entry.establishment_id for entry in entries} == {world.chu.pk, world.clinic.pk}


def test_deleting_a_shared_person_only_removes_them_from_ones_own_establishments(
    world: Any, director: Person
) -> None:
    client = token_client(world.outsider_admin)
    assert client.delete(f"/api/v1/directory/people/{director.pk}").status_code == 204
    assert Person.objects.filter(pk=director.pk).exists()
    assert set(Membership.objects.filter(person=director).values_list("establishment_id", flat=True)) == {
        world.chu.pk}
    entry = AuditEntry.objects.get(action="person.remove", object_id=str(director.pk))
    assert entry.establishment_id == world.clinic.pk


def test_an_import_cannot_change_a_shared_persons_details_either(world: Any, director: Person,
                                                                   client_for: Any) -> None:
    client = client_for("outsider_admin")
    content = csv_bytes([
        ["Nom", "Prénom", "Email", "Mobile", "FINESS établissement", "Fonction"],
        [director.last_name, director.first_name, director.email, "06 39 98 99 99", world.clinic.finess, "director"],
    ])
    client.post(reverse("directory:import_start"), {"kind": "people", "file": SimpleUploadedFile("p.csv", content)})
    batch = ImportBatch.objects.get()
    assert batch.errors and "outside your scope" in " ".join(batch.errors[0]["messages"]) or \
        "hors de votre périmètre" in " ".join(batch.errors[0]["messages"])
    director.refresh_from_db()
    assert director.mobile_phone == "+33639980001"


def test_a_role_is_never_attached_to_another_tenants_login(world: Any, client_for: Any) -> None:
    client = client_for("outsider_admin")
    chu_login = world.establishment_admin.get_username()
    before = RoleAssignment.objects.filter(user=world.establishment_admin).count()
    # Without a password: the same answer as for a free name.
    taken = client.post(reverse("accounts:access_list"), {
        "username": chu_login, "role": Role.AUDITOR, "establishment": world.clinic.pk,
    }).content.decode()
    free = client.post(reverse("accounts:access_list"), {
        "username": "personne.inconnue", "role": Role.AUDITOR, "establishment": world.clinic.pk,
    }).content.decode()
    assert "mot de passe initial" in taken and "mot de passe initial" in free
    # With a password: refused, without saying where the name is used.
    response = client.post(reverse("accounts:access_list"), {
        "username": chu_login, "password": "un-mot-de-passe-long-2026", "role": Role.AUDITOR,
        "establishment": world.clinic.pk,
    })
    body = response.content.decode()
    assert "pas disponible" in body and "CHU" not in body.split("<main")[-1].split("</form>")[0]
    assert RoleAssignment.objects.filter(user=world.establishment_admin).count() == before
    assert not User.objects.filter(username="personne.inconnue").exists()


def test_a_login_already_in_scope_can_get_another_role(world: Any, client_for: Any) -> None:
    client = client_for("establishment_admin")
    member = world.crisis_member
    client.post(reverse("accounts:access_list"), {
        "username": member.get_username(), "role": Role.AUDITOR, "establishment": world.chu.pk,
    })
    assert RoleAssignment.objects.filter(user=member, role=Role.AUDITOR).exists()


def _new_person(client: Client, establishment: Any, email: str) -> Any:
    return client.post("/api/v1/directory/people", data=json.dumps({
        "first_name": "Nouvelle", "last_name": "Personne", "email": email,
        "memberships": [{"establishment_id": establishment.pk, "function": "staff"}],
    }), content_type="application/json")


def test_the_api_does_not_tell_whether_an_email_is_used_in_another_tenant(world: Any) -> None:
    """The clinic's administrator adds someone with the address of a person of the CHU:
    the answer is the one an unused address gets (a person of their own, created), and
    the CHU's record is untouched."""
    chu_person = MembershipFactory(establishment=world.chu, person=PersonFactory(email="cadre@chu-a.example")).person
    client = token_client(world.outsider_admin)
    taken = _new_person(client, world.clinic, "Cadre@chu-a.example")
    free = _new_person(client, world.clinic, "personne.libre@example.org")
    assert (taken.status_code, free.status_code) == (201, 201), (taken.content, free.content)
    assert set(taken.json()) == set(free.json())
    created = Person.objects.get(pk=taken.json()["id"])
    assert created.pk != chu_person.pk
    assert list(created.memberships.values_list("establishment_id", flat=True)) == [world.clinic.pk]
    chu_person.refresh_from_db()
    assert chu_person.first_name != "Nouvelle" and chu_person.email == "cadre@chu-a.example"
    # Changing one's own person's address to that of another CHU person: the same.
    MembershipFactory(establishment=world.chu, person=PersonFactory(email="medecin@chu-a.example"))
    response = patch(client, f"/api/v1/directory/people/{world.clinic_person.pk}", {"email": "medecin@chu-a.example"})
    assert response.status_code == 200, response.content
    # But now that the clinic has a person with the first address, it is taken there.
    response = patch(client, f"/api/v1/directory/people/{world.clinic_person.pk}", {"email": "cadre@chu-a.example"})
    assert response.status_code == 422


def test_an_email_used_within_ones_own_scope_is_refused_through_page_and_api(world: Any, client_for: Any) -> None:
    MembershipFactory(establishment=world.chu, person=PersonFactory(email="cadre@chu-a.example"))
    response = _new_person(token_client(world.establishment_admin), world.chu, "CADRE@chu-a.example")
    assert response.status_code == 422
    assert "already uses this email address" in json.dumps(response.json())
    page = client_for("establishment_admin").post(reverse("directory:person_create"), {
        "first_name": "Nouvelle", "last_name": "Personne", "email": "cadre@chu-a.example", "mobile_phone": "",
        "landline_phone": "", "job_title": "", "preferred_language": "fr",
        "establishment": world.chu.pk, "function": "staff",
    })
    assert page.status_code == 200
    assert "utilise déjà cette adresse" in page.content.decode()
    assert Person.objects.filter(email__iexact="cadre@chu-a.example").count() == 1


def test_the_person_form_does_not_tell_whether_an_email_is_used_in_another_tenant(
    world: Any, client_for: Any
) -> None:
    MembershipFactory(establishment=world.chu, person=PersonFactory(email="cadre@chu-a.example"))
    client = client_for("outsider_admin")

    def add(email: str) -> Any:
        return client.post(reverse("directory:person_create"), {
            "first_name": "Nouvelle", "last_name": "Personne", "email": email, "mobile_phone": "",
            "landline_phone": "", "job_title": "", "preferred_language": "fr",
            "establishment": world.clinic.pk, "function": "staff",
        })

    taken, free = add("cadre@chu-a.example"), add("inconnu@example.org")
    assert taken.status_code == free.status_code == 302
    assert Person.objects.filter(email="cadre@chu-a.example").count() == 2


def test_an_import_does_not_tell_whether_an_email_is_used_in_another_tenant(world: Any, client_for: Any) -> None:
    person = MembershipFactory(establishment=world.chu, person=PersonFactory(email="cadre@chu-a.example")).person
    client = client_for("outsider_admin")
    content = csv_bytes([
        ["Nom", "Prénom", "Email", "Mobile", "FINESS établissement", "Fonction"],
        ["Personne", "Nouvelle", "cadre@chu-a.example", "", world.clinic.finess, "staff"],
    ])
    client.post(reverse("directory:import_start"), {"kind": "people", "file": SimpleUploadedFile("p.csv", content)})
    batch = ImportBatch.objects.get()
    # Nothing is said of the CHU's person: the row is a new person of the clinic.
    assert not batch.errors, batch.errors
    assert not Membership.objects.filter(person=person, establishment=world.clinic).exists()
