"""Directory import: every bad line is reported with its number, nothing is written until
the file is clean or the user confirms the good lines, and only inside the importer's scope."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from planblanc.accounts.models import AuditEntry
from planblanc.directory import importing
from planblanc.directory.models import (
    Establishment,
    Function,
    ImportBatch,
    ImportStatus,
    Membership,
    Person,
)
from planblanc.directory.validators import finess_with_check_digit
from planblanc.tenancy import Perm
from tests.directory.import_helpers import (
    ESTABLISHMENT_HEADER,
    PERSON_HEADER,
    apply,
    csv_bytes,
    errors_by_line,
    upload,
    xlsx_bytes,
)
from tests.factories import GroupFactory, MembershipFactory, PersonFactory


def bad_check_digit(finess: str) -> str:
    return finess[:8] + str((int(finess[8]) + 1) % 10)


def person_row(world: Any, last: str, first: str = "Léa", *, email: str = "", mobile: str = "06 39 98 00 01",
               finess: str | None = None, department: str = "", function: str = "ciso") -> list[str]:
    return [last, first, email, mobile, finess or world.chu.finess, department, function]


@pytest.fixture
def admin(world: Any) -> Any:
    return world.establishment_admin


# Each kind of error, with its line number ------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_lists_each_bad_line_with_its_number_and_reason(world: Any, admin: Any, fmt: str) -> None:
    rows = [
        PERSON_HEADER,
        person_row(world, "Martin", email="lea.martin@chu-a.example"),                     # 2: good
        person_row(world, "Petit", email="petit@chu-a.example", finess=bad_check_digit(world.chu.finess)),  # 3
        person_row(world, "Roux", email="roux@chu-a.example", mobile="appelez-moi"),        # 4
        person_row(world, "Moreau", "Jean", email="LEA.MARTIN@chu-a.example"),              # 5: duplicate email
        person_row(world, "Fournier", email="fournier@chu-a.example", function="astronaut"),  # 6
        person_row(world, "Girard", email="girard@chu-a.example", department="Urgences CHU"),  # 7: good
    ]
    batch = upload(admin, "people", rows, fmt=fmt)

    errors = errors_by_line(batch)
    assert sorted(errors) == [3, 4, 5, 6]
    assert "check digit" in errors[3]
    assert "“appelez-moi” is not a phone number" in errors[4]
    assert "already used on line 2" in errors[5]
    assert "Unknown function “astronaut”" in errors[6]
    assert (batch.row_count, batch.good_count, batch.bad_count) == (6, 2, 4)
    # A preview writes nothing to the directory.
    assert not Person.objects.filter(last_name__in=["Martin", "Girard"]).exists()


def test_it_reports_every_problem_of_a_line_and_the_duplicate_too(world: Any, admin: Any) -> None:
    rows = [
        PERSON_HEADER,
        person_row(world, "Martin", email="lea@chu-a.example"),
        person_row(world, "Autre", "Paul", email="lea@chu-a.example", mobile="12", function="nobody"),
    ]
    errors = errors_by_line(upload(admin, "people", rows))
    assert list(errors) == [3]
    assert "not a valid phone number" in errors[3]
    assert "Unknown function" in errors[3]
    assert "already used on line 2" in errors[3]


def test_it_says_nothing_of_an_email_used_by_someone_outside_the_importers_scope(world: Any, admin: Any) -> None:
    """An address used in another tenant is someone else's record: neither matched nor
    mentioned (the answer is the one an unused address gets)."""
    assert world.clinic_person.email
    rows = [PERSON_HEADER, person_row(world, "Intrus", email=world.clinic_person.email.upper())]
    batch = upload(admin, "people", rows)
    assert errors_by_line(batch) == {}


def test_it_refuses_a_line_for_an_establishment_outside_the_scope(world: Any, admin: Any) -> None:
    unknown = finess_with_check_digit("33000001")
    rows = [
        PERSON_HEADER,
        person_row(world, "Ailleurs", email="ailleurs@clinique-b.example", finess=world.clinic.finess),
        person_row(world, "Nulle", email="nulle@part.example", finess=unknown),
    ]
    errors = errors_by_line(upload(admin, "people", rows))
    # The same words whether the establishment is someone else's or does not exist: no leak.
    assert f"No establishment with FINESS number {world.clinic.finess} in your scope" in errors[2]
    assert f"No establishment with FINESS number {unknown} in your scope" in errors[3]


def test_it_reports_unknown_departments_and_a_repeated_function(world: Any, admin: Any) -> None:
    rows = [
        PERSON_HEADER,
        person_row(world, "Martin", email="lea@chu-a.example", department="Urgences CHU"),
        person_row(world, "Martin", email="lea@chu-a.example", department="Urgences CHU"),
        person_row(world, "Roux", email="roux@chu-a.example", department="Cuisine"),
    ]
    errors = errors_by_line(upload(admin, "people", rows))
    assert "Same person, establishment and function as line 2" in errors[3]
    assert "No department “Cuisine”" in errors[4]
    assert 2 not in errors


def test_it_reports_other_details_for_the_same_email(world: Any, admin: Any) -> None:
    rows = [
        PERSON_HEADER,
        person_row(world, "Martin", email="lea@chu-a.example", function="ciso"),
        person_row(world, "Martin", email="lea@chu-a.example", mobile="06 39 98 00 99", function="dpo"),
    ]
    errors = errors_by_line(upload(admin, "people", rows))
    assert "Line 2 gives other details for the same person (Mobile)" in errors[3]


# Nothing written until clean or confirmed --------------------------------------------


def test_it_writes_nothing_while_bad_lines_remain_then_exactly_the_good_lines(world: Any, admin: Any) -> None:
    rows = [
        PERSON_HEADER,
        person_row(world, "Martin", email="lea@chu-a.example", department="Urgences CHU"),
        person_row(world, "Roux", email="roux@chu-a.example", mobile="0"),
        person_row(world, "Girard", email="girard@chu-a.example", function="Directeur"),
    ]
    batch = upload(admin, "people", rows)
    people_before = Person.objects.count()

    with pytest.raises(ValidationError, match="still has bad lines"):
        apply(admin, batch)
    assert Person.objects.count() == people_before
    assert not AuditEntry.objects.filter(action__startswith="directory.import").exists()

    summary = apply(admin, batch, only_good_rows=True)

    assert Person.objects.count() == people_before + 2
    assert set(Person.objects.filter(email__endswith="@chu-a.example").values_list("last_name", flat=True)) == {
        "Martin", "Girard",
    }
    martin = Membership.objects.get(person__email="lea@chu-a.example")
    assert (martin.establishment, martin.function, martin.department) == (world.chu, "ciso", world.chu_emergency)
    assert Membership.objects.get(person__email="girard@chu-a.example").function == Function.DIRECTOR
    assert summary["created"] == 2 and summary["skipped_lines"] == 1
    batch.refresh_from_db()
    assert batch.status == ImportStatus.APPLIED and batch.rows == []


def test_it_imports_a_clean_file_at_once_and_only_once(world: Any, admin: Any) -> None:
    batch = upload(admin, "people", [PERSON_HEADER, person_row(world, "Martin", email="lea@chu-a.example")])
    assert batch.errors == []
    apply(admin, batch)
    assert Person.objects.filter(email="lea@chu-a.example").count() == 1
    with pytest.raises(ValidationError, match="already been confirmed"):
        apply(admin, batch)


def test_it_updates_people_by_email_and_adds_functions(world: Any, admin: Any) -> None:
    person = world.chu_person
    rows = [
        PERSON_HEADER,
        [person.last_name, "Camille", person.email.upper(), "+33 6 39 98 77 77", world.chu.finess, "", "dpo"],
        [person.last_name, "Camille", person.email, "0639987777", world.ch.finess, "", "staff"],
    ]
    admin_of_group = world.group_ciso  # manages people of the CHU and the CH
    batch = upload(admin_of_group, "people", rows)
    assert batch.errors == []
    summary = apply(admin_of_group, batch)

    person.refresh_from_db()
    assert person.mobile_phone == "+33639987777"
    assert set(person.memberships.values_list("establishment__name", "function")) == {
        ("CHU A", "staff"), ("CHU A", "dpo"), ("CH A", "staff"),
    }
    assert (summary["created"], summary["updated"], summary["functions_added"]) == (0, 1, 2)


def test_it_finds_people_without_email_by_name_and_mobile(world: Any, admin: Any) -> None:
    person = MembershipFactory(
        establishment=world.chu, person=PersonFactory(last_name="Sansmail", first_name="Yves", email="",
                                                      mobile_phone="+33639980042"),
    ).person
    batch = upload(admin, "people", [PERSON_HEADER, ["SANSMAIL", "yves", "", "06 39 98 00 42", world.chu.finess,
                                                     "", "staff"]])
    summary = apply(admin, batch)
    assert summary["created"] == 0
    assert Person.objects.filter(last_name__iexact="sansmail").get() == person


def test_it_refuses_confirmation_when_the_directory_changed_since_the_preview(world: Any, admin: Any) -> None:
    batch = upload(admin, "people", [PERSON_HEADER, person_row(world, "Martin", mobile="06 39 98 00 07")])
    # Meanwhile two people of that name and mobile, without email, are added to the CHU:
    # the line no longer tells which one it is.
    for _ in range(2):
        MembershipFactory(establishment=world.chu, person=PersonFactory(
            last_name="Martin", first_name="Léa", email="", mobile_phone="+33639980007"))

    with pytest.raises(importing.ImportChanged):
        apply(admin, batch, only_good_rows=True)

    batch.refresh_from_db()
    assert batch.status == ImportStatus.PENDING
    assert "Several people in your establishments have this name" in errors_by_line(batch)[2]
    assert Person.objects.filter(last_name="Martin").count() == 2


def test_it_keeps_a_people_import_inside_the_chosen_establishment(world: Any) -> None:
    officer = world.group_ciso
    rows = [
        ["Nom", "Prénom", "Email", "FINESS", "Fonction"],
        ["Martin", "Léa", "lea@chu-a.example", "", "staff"],
        ["Roux", "Jo", "jo@ch-a.example", world.ch.finess, "staff"],
    ]
    batch = upload(officer, "people", rows, establishment=world.chu)
    assert list(errors_by_line(batch)) == [3]
    apply(officer, batch, only_good_rows=True)
    assert Membership.objects.get(person__email="lea@chu-a.example").establishment == world.chu


# Establishments ------------------------------------------------------------------------


def test_it_creates_and_updates_establishments_by_finess(world: Any) -> None:
    officer = world.regional_officer
    new_finess = finess_with_check_digit("01000042")
    rows = [
        ESTABLISHMENT_HEADER,
        [new_finess, "Centre hospitalier de Nulle-Part", "CH", "RA", "GHT-A", "oui", "non", "04 74 00 00 00"],
        [world.ehpad.finess, "EHPAD A renommé", "ehpad", "Région A", "", "non", "oui", ""],
    ]
    batch = upload(officer, "establishments", rows)
    assert batch.errors == []
    summary = apply(officer, batch)

    created = Establishment.objects.get(finess=new_finess)
    assert (created.region, created.group, created.is_priority, created.switchboard_phone) == (
        world.region_a, world.group_a, True, "+33474000000",
    )
    world.ehpad.refresh_from_db()
    assert (world.ehpad.name, world.ehpad.is_essential_operator) == ("EHPAD A renommé", True)
    assert (summary["created"], summary["updated"]) == (1, 1)
    entry = AuditEntry.objects.get(action="directory.import_establishments")
    assert entry.establishment == created
    assert entry.changes["created_finess"] == [None, [new_finess]]


def test_it_reports_establishment_errors_with_their_lines(world: Any) -> None:
    other_group = GroupFactory(region=world.region_b, code="GHT-B")
    rows = [
        ESTABLISHMENT_HEADER,
        [finess_with_check_digit("01000043"), "Ok", "ch", "RA", "", "", "", ""],
        [bad_check_digit(world.chu.finess), "Typo", "ch", "RA", "", "", "", ""],
        [finess_with_check_digit("01000044"), "Sans catégorie", "hospice", "RA", "", "", "", ""],
        [finess_with_check_digit("01000045"), "Sans région", "ch", "Atlantide", "", "", "", ""],
        [finess_with_check_digit("01000046"), "Mauvais GHT", "ch", "RA", other_group.code, "", "", ""],
        [finess_with_check_digit("01000047"), "Drapeau", "ch", "RA", "", "peut-être", "", ""],
        [finess_with_check_digit("01000043"), "Doublon", "ch", "RA", "", "", "", ""],
    ]
    errors = errors_by_line(upload(world.national_admin, "establishments", rows))
    assert sorted(errors) == [3, 4, 5, 6, 7, 8]
    assert "check digit" in errors[3]
    assert "Unknown category “hospice”" in errors[4]
    assert "Unknown region “Atlantide”" in errors[5]
    assert "belongs to another region" in errors[6]
    assert "neither yes nor no" in errors[7]
    assert "Same FINESS number as line 2" in errors[8]


def test_it_refuses_establishments_outside_the_scope(world: Any) -> None:
    rows = [
        ESTABLISHMENT_HEADER,
        [world.clinic.finess, "Clinique B", "clinic", "RB", "", "", "", ""],  # region B: not the officer's
        [finess_with_check_digit("01000048"), "Nouveau en B", "ch", "RB", "", "", "", ""],
        [world.ch.finess, "CH A", "ch", "RB", "", "", "", ""],  # moving it out of region A
    ]
    errors = errors_by_line(upload(world.regional_officer, "establishments", rows))
    assert "outside your scope" in errors[2]
    assert "within your own region or group" in errors[3]
    assert "belongs to another region" in errors[4] or "within your own region or group" in errors[4]

    # An establishment administrator may update their own establishment, not create one.
    rows = [
        ESTABLISHMENT_HEADER,
        [world.chu.finess, "CHU A (nouveau nom)", "chu", "RA", "GHT-A", "oui", "non", ""],
        [finess_with_check_digit("01000049"), "Nouveau", "ch", "RA", "", "", "", ""],
    ]
    batch = upload(world.establishment_admin, "establishments", rows)
    assert list(errors_by_line(batch)) == [3]
    apply(world.establishment_admin, batch, only_good_rows=True)
    world.chu.refresh_from_db()
    assert world.chu.name == "CHU A (nouveau nom)"
    assert not Establishment.objects.filter(name="Nouveau").exists()


def test_it_refuses_an_import_kind_without_its_permission(world: Any) -> None:
    with pytest.raises(Exception, match="not allowed"):
        upload(world.regional_officer, "people", [PERSON_HEADER, person_row(world, "Martin")])
    with pytest.raises(Exception, match="not allowed"):
        upload(world.crisis_member, "establishments", [ESTABLISHMENT_HEADER])
    assert not ImportBatch.objects.exists()


# Files -------------------------------------------------------------------------------


def test_it_reads_french_excel_csv_and_tolerant_headers(world: Any, admin: Any) -> None:
    header = ["NOM", "prenom", "E-mail", "Téléphone portable", "N° FINESS", "Fonction / rôle"]
    for content in (
        csv_bytes([header, ["Martin", "Léa", "lea@chu-a.example", "06 39 98 00 01", world.chu.finess, "RSSI"]],
                  delimiter=";", encoding="cp1252"),
        csv_bytes([header, ["Martin", "Léa", "lea@chu-a.example", "06 39 98 00 01", world.chu.finess, "CISO"]],
                  delimiter=",", bom=True),
    ):
        with translation.override("en"):
            batch = importing.directory_import_upload(
                actor=admin, kind="people", filename="equipe.csv", content=content
            )
        assert batch.errors == [], batch.errors
        assert batch.rows[0]["cells"]["first_name"] == "Léa"
        assert batch.rows[0]["cells"]["function"] in {"RSSI", "CISO"}
    english = [["Last name", "First name", "Email", "Mobile phone", "Establishment FINESS", "Function"],
               ["Martin", "Léa", "lea@chu-a.example", "", world.chu.finess, "Director"]]
    assert upload(admin, "people", english).errors == []


def test_it_finds_the_header_below_a_title_line(world: Any, admin: Any) -> None:
    rows = [
        ["Annuaire de crise — CHU A", "", "", "", "", "", ""],
        ["exporté le 01/02/2026"],
        PERSON_HEADER,
        person_row(world, "Martin", email="lea@chu-a.example"),
        person_row(world, "Roux", email="roux@chu-a.example", function="?"),
    ]
    batch = upload(admin, "people", rows, fmt="xlsx")
    assert batch.row_count == 2
    assert list(errors_by_line(batch)) == [5]  # the line number the spreadsheet shows


def test_it_reads_numbers_that_a_spreadsheet_turned_into_numbers(world: Any, admin: Any) -> None:
    corsica_free = finess_with_check_digit("01000050")  # leading zero lost in a numeric cell
    rows = [["FINESS", "Nom", "Catégorie", "Région", "Code postal", "Prioritaire"],
            [int(corsica_free), "Ain", "ch", "RA", 1000, True]]
    batch = upload(world.national_admin, "establishments", rows, fmt="xlsx")
    assert batch.errors == []
    apply(world.national_admin, batch)
    created = Establishment.objects.get(finess=corsica_free)
    assert (created.postal_code, created.is_priority) == ("01000", True)


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("vide.csv", b"", "empty"),
        ("vide.csv", b"\n\n  \n", "empty"),
        ("vieux.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old Excel file"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "neither CSV nor XLSX"),
        ("faux.xlsx", b"PK\x03\x04 not really a zip", "damaged"),
        ("entete.csv", b"foo;bar\n1;2\n", "No known column"),
        ("manque.csv", "Nom;Prénom\nMartin;Léa\n".encode(), "Missing columns"),
        ("seul.csv", "Nom;Prénom;FINESS;Fonction\n".encode(), "no data lines"),
    ],
)
def test_it_refuses_bad_files_without_storing_anything(
    world: Any, admin: Any, filename: str, content: bytes, message: str
) -> None:
    with translation.override("en"), pytest.raises(ValidationError, match=message):
        importing.directory_import_upload(actor=admin, kind="people", filename=filename, content=content)
    assert not ImportBatch.objects.exists()


def test_it_refuses_files_too_large_or_too_long(world: Any, admin: Any, monkeypatch: Any) -> None:
    with translation.override("en"), pytest.raises(ValidationError, match="larger than 5 MB"):
        importing.directory_import_upload(
            actor=admin, kind="people", filename="gros.csv", content=b"Nom;Prenom\n" + b"x" * (5 * 2**20)
        )
    rows = [PERSON_HEADER] + [person_row(world, f"P{n}") for n in range(importing.MAX_ROWS + 1)]
    with translation.override("en"), pytest.raises(ValidationError, match="more than 20,000 lines"):
        importing.directory_import_upload(actor=admin, kind="people", filename="long.csv", content=csv_bytes(rows))
    assert not ImportBatch.objects.exists()


# Pages, and who may see a batch --------------------------------------------------------


def test_it_runs_the_whole_journey_in_the_browser_pages(world: Any, admin: Any, client_for: Any) -> None:
    client = client_for("establishment_admin")
    content = xlsx_bytes([PERSON_HEADER, person_row(world, "Martin", email="lea@chu-a.example"),
                          person_row(world, "Roux", email="roux@chu-a.example", function="?")])
    response = client.post(reverse("directory:import_start"), {
        "kind": "people", "file": SimpleUploadedFile("equipe.xlsx", content),
    })
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("directory:import_preview", args=[batch.pk])

    page = client.get(response["Location"]).content.decode()
    assert 'data-label="Ligne">3<' in page or ">3</td>" in page
    assert 'name="only_good_rows" value="1"' in page

    response = client.post(reverse("directory:import_confirm", args=[batch.pk]), {"only_good_rows": "1"})
    assert response["Location"] == reverse("directory:import_result", args=[batch.pk])
    assert client.get(response["Location"]).status_code == 200
    assert Person.objects.filter(email="lea@chu-a.example").exists()
    assert not Person.objects.filter(email="roux@chu-a.example").exists()


def test_it_shows_the_file_error_on_the_form(world: Any, client_for: Any) -> None:
    client = client_for("establishment_admin")
    response = client.post(reverse("directory:import_start"), {
        "kind": "people", "file": SimpleUploadedFile("notes.csv", b"foo;bar\n1;2\n"),
    })
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_it_does_not_confirm_from_the_page_without_the_only_good_lines_choice(
    world: Any, admin: Any, client_for: Any
) -> None:
    batch = upload(admin, "people", [PERSON_HEADER, person_row(world, "Martin", email="lea@chu-a.example"),
                                     person_row(world, "Roux", function="?")])
    response = client_for("establishment_admin").post(reverse("directory:import_confirm", args=[batch.pk]))
    assert response["Location"] == reverse("directory:import_preview", args=[batch.pk])
    assert not Person.objects.filter(email="lea@chu-a.example").exists()


@pytest.mark.parametrize("persona", ["outsider_admin", "national_admin", "group_ciso"])
def test_it_hides_a_batch_from_everyone_but_its_uploader(
    world: Any, admin: Any, client_for: Any, persona: str
) -> None:
    batch = upload(admin, "people", [PERSON_HEADER, person_row(world, "Martin", email="lea@chu-a.example")])
    client = client_for(persona)
    assert client.get(reverse("directory:import_preview", args=[batch.pk])).status_code == 404
    assert client.get(reverse("directory:import_result", args=[batch.pk])).status_code == 404
    assert client.post(reverse("directory:import_confirm", args=[batch.pk])).status_code == 404
    assert client.post(reverse("directory:import_cancel", args=[batch.pk])).status_code == 404
    with pytest.raises(Exception) as caught:
        apply(world.users[persona], batch)
    assert caught.type.__name__ == "Http404"
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PENDING
    assert not Person.objects.filter(email="lea@chu-a.example").exists()


def test_it_cancels_a_batch_and_forgets_its_rows(world: Any, admin: Any, client_for: Any) -> None:
    batch = upload(admin, "people", [PERSON_HEADER, person_row(world, "Martin", email="lea@chu-a.example")])
    client_for("establishment_admin").post(reverse("directory:import_cancel", args=[batch.pk]))
    batch.refresh_from_db()
    assert (batch.status, batch.rows) == (ImportStatus.CANCELLED, [])
    assert not Person.objects.filter(email="lea@chu-a.example").exists()


def test_it_hides_the_import_page_from_those_who_manage_nothing(world: Any, client_for: Any) -> None:
    assert client_for("crisis_member").get(reverse("directory:import_start")).status_code == 404
    page = client_for("regional_officer").get(reverse("directory:import_start")).content.decode()
    assert 'value="establishments"' in page and 'value="people"' not in page


# Audit -------------------------------------------------------------------------------


def test_it_writes_one_audit_entry_summarising_the_import(world: Any, admin: Any) -> None:
    rows = [PERSON_HEADER] + [person_row(world, f"Nom{n}", email=f"p{n}@chu-a.example") for n in range(5)]
    rows.append(person_row(world, "Bad", function="?"))
    batch = upload(admin, "people", rows)
    before = AuditEntry.objects.count()
    apply(admin, batch, only_good_rows=True)

    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.get(action="directory.import_people")
    assert entry.actor == admin
    assert entry.object_id == str(batch.pk)
    assert entry.changes["created"] == [None, 5]
    assert entry.changes["skipped_lines"] == [None, [7]]
    assert entry.changes["sha256"] == [None, batch.sha256]
    # It hangs from the establishment, so that the importer's audit log shows it.
    assert entry.establishment == world.chu
    assert AuditEntry.objects.visible_to(admin, Perm.VIEW_AUDIT).filter(pk=entry.pk).exists()
    assert sorted(entry.changes["created_ids"][1]) == sorted(
        Person.objects.filter(email__endswith="@chu-a.example").values_list("pk", flat=True)
    )
