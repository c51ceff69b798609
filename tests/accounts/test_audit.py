"""The audit log: every important write leaves an entry saying who, when, what and from
where; entries cannot be changed or deleted, not even with raw SQL; the audit page shows
each user only the entries of their scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planblanc.accounts.models import ApiToken, AuditEntry, RoleAssignment, User
from planblanc.directory.models import Department, Establishment, Person
from planblanc.directory.validators import finess_with_check_digit
from planblanc.tenancy import Role
from tests.conftest import PASSWORD, verified_client
from tests.support.api import token_client

IP = "198.51.100.23"
AGENT = "Mozilla/5.0 (Linux; Android 14) PlanBlancTest/1.0"


def from_phone(client: Client) -> Client:
    client.defaults.update(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)
    return client


def web(user: Any) -> Client:
    return from_phone(verified_client(user))


def api(user: Any) -> Client:
    return from_phone(token_client(user, language=None))


class Since:
    """The entries written after this point, checked for who/when/what/where."""

    def __init__(self) -> None:
        self.start = timezone.now()
        self.last_id = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def one(self, action: str, **expected: Any) -> AuditEntry:
        entries = list(AuditEntry.objects.filter(id__gt=self.last_id, action=action))
        assert len(entries) == 1, f"{action}: {[e.action for e in AuditEntry.objects.filter(id__gt=self.last_id)]}"
        entry = entries[0]
        assert self.start <= entry.at <= timezone.now()
        for name, value in expected.items():
            assert getattr(entry, name) == value, (name, getattr(entry, name), value)
        return entry


def assert_from_phone(entry: AuditEntry, via: str = "web") -> None:
    assert entry.ip_address == IP
    assert entry.user_agent == AGENT
    assert entry.via == via


# Every important write ------------------------------------------------------------------


def test_it_records_a_person_created_updated_and_deleted(world):
    admin = world.establishment_admin
    client = web(admin)
    since = Since()
    response = client.post(reverse("directory:person_create"), {
        "last_name": "Martin", "first_name": "Léa", "preferred_language": "fr",
        "establishment": world.chu.pk, "function": "ciso",
    })
    assert response.status_code == 302
    person = Person.objects.get(last_name="Martin")
    entry = since.one("person.create", actor=admin, actor_label="establishment_admin",
                      object_type="directory.person", object_id=str(person.pk), establishment=world.chu)
    assert entry.changes["last_name"] == [None, "Martin"]
    assert_from_phone(entry)

    since = Since()
    client.post(reverse("directory:person_edit", args=[person.pk]), {
        "last_name": "Martin", "first_name": "Léa", "job_title": "RSSI", "preferred_language": "fr",
    })
    entry = since.one("person.update", actor=admin, object_id=str(person.pk))
    assert entry.changes == {"job_title": ["", "RSSI"]}
    assert_from_phone(entry)

    since = Since()
    client.post(reverse("directory:person_delete", args=[person.pk]))
    entry = since.one("person.delete", actor=admin, object_id=str(person.pk), object_label="Léa Martin")
    assert entry.changes["last_name"] == ["Martin", None]
    assert_from_phone(entry)
    assert not Person.objects.filter(pk=person.pk).exists()


def test_it_records_an_establishment_created_and_updated(world):
    officer = world.regional_officer
    client = web(officer)
    finess = finess_with_check_digit("69555555")
    since = Since()
    response = client.post(reverse("directory:establishment_create"), {
        "finess": finess, "name": "CH Nouveau", "category": "ch", "region": world.region_a.pk,
    })
    assert response.status_code == 302
    establishment = Establishment.objects.get(finess=finess)
    entry = since.one("establishment.create", actor=officer, object_type="directory.establishment",
                      object_id=str(establishment.pk), establishment=establishment)
    assert entry.changes["finess"] == [None, finess]
    assert_from_phone(entry)

    since = Since()
    client.post(reverse("directory:establishment_edit", args=[establishment.pk]), {
        "finess": finess, "name": "CH Renommé", "category": "ch", "region": world.region_a.pk,
    })
    entry = since.one("establishment.update", actor=officer, object_label="CH Renommé")
    assert entry.changes == {"name": ["CH Nouveau", "CH Renommé"]}
    assert_from_phone(entry)


def test_it_records_writes_through_the_api_as_such(world):
    admin = world.establishment_admin
    client = api(admin)
    since = Since()
    response = client.post(
        f"/api/v1/directory/establishments/{world.chu.pk}/departments",
        json.dumps({"kind": "pharmacy", "name": "Pharmacie"}), content_type="application/json",
    )
    assert response.status_code == 201
    department = Department.objects.get(pk=response.json()["id"])
    entry = since.one("department.create", actor=admin, object_id=str(department.pk), establishment=world.chu)
    assert_from_phone(entry, via="api")

    since = Since()
    client.delete(f"/api/v1/directory/departments/{department.pk}")
    entry = since.one("department.delete", actor=admin, object_id=str(department.pk), establishment=world.chu)
    assert_from_phone(entry, via="api")


def test_it_records_a_role_granted_and_revoked(world):
    admin = world.establishment_admin
    client = web(admin)
    since = Since()
    client.post(reverse("accounts:access_list"), {
        "username": "nouvelle.auditrice", "password": "un-mot-de-passe-long-2026", "role": Role.AUDITOR,
        "establishment": world.chu.pk,
    })
    user = User.objects.get(username="nouvelle.auditrice")
    created = since.one("user.create", actor=admin, object_id=str(user.pk))
    assert_from_phone(created)
    entry = since.one("role.assign", actor=admin, object_type="accounts.user", object_id=str(user.pk),
                      establishment=world.chu)
    assert entry.changes == {"role": [None, "auditor@CHU A"]}
    assert_from_phone(entry)

    since = Since()
    assignment = RoleAssignment.objects.get(user=user)
    client.post(reverse("accounts:access_revoke", args=[assignment.pk]))
    entry = since.one("role.revoke", actor=admin, object_id=str(user.pk), establishment=world.chu)
    assert entry.changes == {"role": ["auditor@CHU A", None]}
    assert_from_phone(entry)


def test_it_records_an_api_token_created_and_revoked(world):
    user = world.crisis_member
    client = web(user)
    since = Since()
    client.post(reverse("accounts:api_tokens"), {"name": "script régional", "valid_days": 30})
    token = ApiToken.objects.get(user=user, name="script régional")
    entry = since.one("api_token.create", actor=user, object_type="accounts.apitoken", object_id=str(token.pk))
    assert_from_phone(entry)
    # The audit log never holds the key itself.
    assert token.key_hint not in json.dumps(entry.changes)

    since = Since()
    client.post(reverse("accounts:api_token_revoke", args=[token.pk]))
    entry = since.one("api_token.revoke", actor=user, object_id=str(token.pk))
    assert_from_phone(entry)


def test_it_records_logins_and_failed_logins_with_the_address(world):
    client = from_phone(Client())
    since = Since()
    client.post(reverse("accounts:login"), {"username": "crisis_member", "password": "wrong password"})
    failed = since.one("auth.login_failed", actor=None, object_label="crisis_member")
    assert_from_phone(failed)

    since = Since()
    response = client.post(reverse("accounts:login"), {"username": "crisis_member", "password": PASSWORD})
    assert response.status_code == 302
    entry = since.one("auth.login", actor=world.crisis_member, object_id=str(world.crisis_member.pk))
    assert_from_phone(entry)


def test_it_shows_the_django_admin_read_only_so_that_every_write_goes_through_a_service(world):
    """The admin reads within the user's scope and writes nothing: a write there would
    skip the services' checks and audit entries."""
    admin = world.national_admin
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    client = web(User.objects.get(pk=admin.pk))
    since = Since()
    change = f"/admin/directory/region/{world.region_b.pk}/change/"
    assert client.get(change).status_code == 200
    response = client.post(change, {"code": "RB", "name": "Région B renommée", "agency_name": "ARS B"})
    assert response.status_code == 403
    department_pk = world.clinic_surgery.pk
    assert client.post(f"/admin/directory/department/{department_pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post("/admin/directory/region/add/", {"code": "RC", "name": "Région C"}).status_code == 403
    world.region_b.refresh_from_db()
    assert world.region_b.name == "Région B"
    assert Department.objects.filter(pk=department_pk).exists()
    assert not AuditEntry.objects.filter(id__gt=since.last_id, action__startswith="admin.").exists()


def test_it_leaves_no_entry_when_a_write_is_refused(world):
    client = web(world.crisis_member)
    since = Since()
    client.post(reverse("directory:person_edit", args=[world.chu_person.pk]), {
        "last_name": "X", "first_name": "Y", "preferred_language": "fr",
    })
    client.post(reverse("directory:person_delete", args=[world.clinic_person.pk]))
    assert not AuditEntry.objects.filter(id__gt=since.last_id).exists()


# Append-only ------------------------------------------------------------------------------


@pytest.fixture
def entry(world: Any) -> AuditEntry:
    from planblanc.accounts.audit import audit_record

    return audit_record(actor=world.national_admin, action="test.entry", establishment=world.chu, label="kept")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_auditentry SET action = 'forged' WHERE id = %s",
        "UPDATE accounts_auditentry SET actor_label = 'someone else', ip_address = NULL WHERE id = %s",
        "DELETE FROM accounts_auditentry WHERE id = %s",
    ],
    ids=["update action", "update who", "delete"],
)
def test_the_database_refuses_to_change_or_delete_an_entry(entry, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.action, stored.actor_label, stored.object_label) == ("test.entry", "national_admin", "kept")


def test_the_database_refuses_to_empty_the_log(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_auditentry")
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_orm_refuses_too(entry):
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.action = "forged"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.entry"


def test_the_database_still_accepts_new_entries(entry):
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM accounts_auditentry")
        (count,) = cursor.fetchone()
    assert count >= 1


def test_an_establishment_or_login_with_history_cannot_be_deleted(world):
    """Clearing the entries' links would rewrite history (and the guards refuse UPDATE):
    the deletion is refused up front, with Django's ProtectedError, and nothing goes."""
    from django.db.models import ProtectedError

    from planblanc.accounts.audit import audit_record

    establishment = Establishment.objects.create(
        finess=finess_with_check_digit("69777777"), name="Éphémère", category="ch", region=world.region_a
    )
    kept = audit_record(actor=world.crisis_member, action="test.entry", establishment=establishment, label="Éphémère")
    with pytest.raises(ProtectedError):
        establishment.delete()
    with pytest.raises(ProtectedError):
        User.objects.get(pk=world.crisis_member.pk).delete()
    kept = AuditEntry.objects.get(pk=kept.pk)
    assert (kept.establishment_id, kept.actor_id) == (establishment.pk, world.crisis_member.pk)


def test_the_admin_keeps_an_establishment_with_history(world):
    from planblanc.accounts.audit import audit_record

    audit_record(actor=None, action="test.entry", establishment=world.ehpad)
    User.objects.filter(pk=world.national_admin.pk).update(is_staff=True, is_superuser=True)
    client = verified_client(User.objects.get(pk=world.national_admin.pk))
    client.cookies["planblanc_language"] = "en"
    response = client.post(f"/admin/directory/establishment/{world.ehpad.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403  # the admin only reads; not a server error
    assert Establishment.objects.filter(pk=world.ehpad.pk).exists()


# The audit page is scoped -------------------------------------------------------------------


@pytest.fixture
def entries(world: Any) -> dict[str, AuditEntry]:
    from planblanc.accounts.audit import audit_record

    return {
        key: audit_record(actor=None, action="test.entry", establishment=getattr(world, key), label=f"{key}-entry")
        for key in ("chu", "ch", "ehpad", "clinic")
    } | {"none": audit_record(actor=None, action="test.entry", label="platform-entry")}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("national_admin", {"chu", "ch", "ehpad", "clinic", "none"}),
        ("regional_officer", {"chu", "ch", "ehpad"}),
        ("group_ciso", {"chu", "ch"}),
        ("establishment_admin", {"chu"}),
        ("auditor", {"chu"}),
        ("outsider_admin", {"clinic"}),
    ],
)
def test_the_audit_page_shows_only_the_scope(world, entries, persona, expected):
    response = verified_client(getattr(world, persona)).get(reverse("accounts:audit_log"))
    assert response.status_code == 200
    body = response.content.decode()
    for key in entries:
        label = "platform-entry" if key == "none" else f"{key}-entry"
        assert (f">{label}<" in body) == (key in expected), (persona, key)


@pytest.mark.parametrize("persona", ["crisis_member", "exercise_animator"])
def test_the_audit_page_does_not_exist_for_roles_without_the_right(world, entries, persona):
    response = verified_client(getattr(world, persona)).get(reverse("accounts:audit_log"))
    assert response.status_code == 404
    assert "chu-entry" not in response.content.decode()


def test_the_audit_page_shows_who_when_what_and_where(world, entries):
    client = web(world.establishment_admin)
    client.post(reverse("directory:person_edit", args=[world.chu_person.pk]), {
        "last_name": "Chuperson", "first_name": "Camille", "job_title": "Cadre", "preferred_language": "fr",
    })
    body = client.get(reverse("accounts:audit_log") + "?action=person.").content.decode()
    assert "person.update" in body
    assert "establishment_admin" in body
    assert IP in body
    assert "job_title" in body
    assert "chu-entry" not in body  # filtered by action
