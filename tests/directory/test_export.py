"""Directory export: the import's columns, the user's scope and the list's filters, and an
export that imports back without changing anything."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import translation

from planblanc.directory import importing
from planblanc.directory.models import Establishment, Membership, Person
from tests.directory.import_helpers import apply, xlsx_rows
from tests.factories import MembershipFactory, PersonFactory


def download(client: Any, name: str, fmt: str, **params: Any) -> tuple[str, bytes]:
    response = client.get(reverse(f"directory:{name}", args=[fmt]), params)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response["Content-Disposition"].split('filename="')[1].rstrip('"'), content


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # Excel needs the BOM to read UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def rows_of(content: bytes, fmt: str) -> list[list[Any]]:
    return csv_rows(content) if fmt == "csv" else xlsx_rows(content)


def reimport(actor: Any, kind: str, filename: str, content: bytes) -> Any:
    with translation.override("en"):
        return importing.directory_import_upload(actor=actor, kind=kind, filename=filename, content=content)


def state() -> tuple[list[Any], list[Any], list[Any]]:
    people = list(Person.objects.order_by("pk").values())
    memberships = list(Membership.objects.order_by("pk").values())
    establishments = list(Establishment.objects.order_by("pk").values())
    return people, memberships, establishments


@pytest.fixture
def rich_people(world: Any) -> None:
    """People that exercise every column: two functions, a department, a foreign landline,
    no email, English, and a name a spreadsheet would run as a formula."""
    lea = PersonFactory(last_name="Martin", first_name="Léa", job_title="RSSI", landline_phone="+442079460958",
                        preferred_language="en")
    MembershipFactory(person=lea, establishment=world.chu, function="ciso", department=world.chu_emergency)
    MembershipFactory(person=lea, establishment=world.chu, function="crisis_cell")
    MembershipFactory(establishment=world.chu, person=PersonFactory(last_name="Sansmail", email="", mobile_phone=""))
    MembershipFactory(establishment=world.chu, person=PersonFactory(last_name="=HYPERLINK(1)", first_name="-x"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_exports_people_in_the_import_columns_and_imports_them_back_unchanged(
    world: Any, client_for: Any, rich_people: None, fmt: str
) -> None:
    filename, content = download(client_for("establishment_admin"), "person_export", fmt)
    rows = rows_of(content, fmt)
    assert rows[0] == [column.header for column in importing.PERSON_COLUMNS]
    martin = [row for row in rows if row[0] == "Martin"]
    assert len(martin) == 2  # one line per function
    assert martin[0][5] == "00 44 20 7946 0958"
    formula = next(row for row in rows if "HYPERLINK" in str(row[0]))
    assert formula[0] == "'=HYPERLINK(1)" and formula[1] == "'-x"

    before = state()
    batch = reimport(world.establishment_admin, "people", filename, content)
    assert batch.errors == []
    summary = apply(world.establishment_admin, batch)

    assert (summary["created"], summary["updated"], summary["functions_added"]) == (0, 0, 0)
    assert summary["unchanged"] == Person.objects.visible_to(world.establishment_admin).count()
    people_before, memberships_before, establishments_before = before
    people_after, memberships_after, establishments_after = state()
    assert people_after == people_before
    assert memberships_after == memberships_before
    assert establishments_after == establishments_before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_exports_establishments_and_imports_them_back_unchanged(
    world: Any, client_for: Any, fmt: str
) -> None:
    world.chu.switchboard_phone = "+33472000000"
    world.chu.address, world.chu.postal_code, world.chu.city = "1 rue de l'Exemple", "01000", "Bourg"
    world.chu.is_essential_operator = True
    world.chu.save()
    filename, content = download(client_for("regional_officer"), "establishment_export", fmt)
    rows = rows_of(content, fmt)
    assert rows[0] == [column.header for column in importing.ESTABLISHMENT_COLUMNS]
    chu = next(row for row in rows if row[0] == world.chu.finess)
    assert chu[1:7] == ["CHU A", "chu", "RA", "GHT-A", "oui", "oui"]
    assert chu[8] == "01000" and chu[10] == "04 72 00 00 00"

    before = state()
    batch = reimport(world.regional_officer, "establishments", filename, content)
    assert batch.errors == []
    summary = apply(world.regional_officer, batch)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert state() == before


def test_it_exports_only_what_the_user_may_see(world: Any, client_for: Any) -> None:
    _, content = download(client_for("outsider_admin"), "person_export", "csv")
    names = {row[0] for row in csv_rows(content)[1:]}
    assert names == {"Cliniqueperson"}
    _, content = download(client_for("outsider_admin"), "establishment_export", "csv")
    assert [row[0] for row in csv_rows(content)[1:]] == [world.clinic.finess]


def test_it_exports_with_the_list_filters(world: Any, client_for: Any) -> None:
    client = client_for("national_admin")
    _, content = download(client, "person_export", "csv", establishment=world.ch.pk)
    assert {row[0] for row in csv_rows(content)[1:]} == {"Chperson"}
    _, content = download(client, "establishment_export", "xlsx", category="ehpad")
    assert [row[1] for row in xlsx_rows(content)[1:]] == ["EHPAD A"]
    _, content = download(client, "establishment_export", "csv", q="CHU")
    assert [row[1] for row in csv_rows(content)[1:]] == ["CHU A"]


def test_it_links_the_exports_from_the_lists_with_their_filters(world: Any, client_for: Any) -> None:
    client = client_for("establishment_admin")
    page = client.get(reverse("directory:person_list"), {"q": "Chu"}).content.decode()
    assert reverse("directory:person_export", args=["csv"]) + "?q=Chu" in page
    assert reverse("directory:person_export", args=["xlsx"]) + "?q=Chu" in page
    page = client.get(reverse("directory:establishment_list")).content.decode()
    assert reverse("directory:establishment_export", args=["xlsx"]) in page


def test_it_refuses_an_unknown_format_and_anonymous_users(world: Any, client_for: Any, client: Any) -> None:
    assert client_for("national_admin").get(
        reverse("directory:person_export", args=["pdf"])
    ).status_code == 404
    response = client.get(reverse("directory:person_export", args=["csv"]))
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
