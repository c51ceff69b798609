from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from planblanc.exercises import chronogramme as chrono
from planblanc.exercises.models import Channel, Exercise
from planblanc.exercises.services import (
    chronogramme_import,
    exercise_create,
    exercise_create_from_kit,
)

REAL_FILES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "chronogrammes"
needs_real_files = pytest.mark.skipif(
    not REAL_FILES.is_dir(),
    reason=f"the real kit spreadsheets are not here ({REAL_FILES}): they live beside the repository, not in it",
)


def messy_workbook() -> bytes:
    """A chronogramme written the way real kits are: a notes sheet first, title rows,
    French headers, phase rows, "-" numbers and every kind of time."""
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Mode d'emploi"
    notes.append(["Lire avant l'exercice"])
    notes.append(["Chaque stimulus est envoyé par l'animateur désigné."])
    sheet = workbook.create_sheet("Chrono")
    sheet.append(["EXERCICE CYBER — CHRONOGRAMME"])
    sheet.append(["Version de travail, ne pas diffuser"])
    sheet.append([])
    sheet.append(["Numéro", "Horaire", "Vecteur", "Émetteur", "Destinataire", "Stimulus",
                  "Réaction attendue", "Commentaire", "Livrable", "Dépend de"])
    sheet.append(["TANGO 1 — Détection"])                                                     # row 5
    sheet.append([1, "10h15", "Mail", "Support", "Cellule technique", "Postes bloqués",
                  "- Prévenir le RSSI\n- Ouvrir la main courante", "", "Main courante", ""])  # row 6
    sheet.append(["-", "10h20", "Appel téléphonique", "Urgences", "Cellule de crise", "Plus de DPI"])  # 7
    sheet.append([2, datetime.time(10, 30), "SMS", "Cadre", "Cellule de crise", "Rumeur", "", "", "", "1"])  # 8
    sheet.append(["PHASE 2 — Communication"])                                                 # row 9
    sheet.append([3, "12H30 (08/08/2024)", "Article de presse", "Presse", "Communication", "Article"])  # 10
    sheet.append([4, "+00:45", "Post LinkedIn", "Influenceur", "Communication", "Publication"])  # 11
    sheet.append([5, "T+45", "Pigeon voyageur", "Animateur", "Cellule de crise", "Message"])  # 12
    sheet.append([6, "vers midi", "Mail", "Animateur", "Cellule de crise", "Relance"])         # 13
    sheet.append([7, "11:00:00", "Mail", "ARS", "Cellule de crise", "Point", "", "", "", "99"])  # 14
    sheet.append([8, datetime.datetime(2024, 8, 8, 14, 0), "oral", "Animateur", "Tous", "Fin"])  # 15
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_it_reads_a_messy_chronogramme_and_reports_errors_by_line() -> None:
    result = chrono.read_xlsx(messy_workbook())
    assert result.sheet == "Chrono"  # the notes sheet has no header row
    assert result.header_row == 4
    assert [str(e.where) for e in result.errors] == ["Chrono!12", "Chrono!13", "Chrono!14"]
    assert "Pigeon voyageur" in result.errors[0].message
    assert "vers midi" in result.errors[1].message
    assert "99" in result.errors[2].message
    by_row = {i.where: i for i in result.injects}
    assert len(result.injects) == 9
    first, dash, second = by_row["Chrono!6"], by_row["Chrono!7"], by_row["Chrono!8"]
    assert first.phase == "TANGO 1 — Détection" and by_row["Chrono!10"].phase == "PHASE 2 — Communication"
    assert first.offset == datetime.timedelta(0)  # the earliest time of day is the start
    assert dash.offset == datetime.timedelta(minutes=5) and dash.channel == Channel.PHONE_CALL
    assert dash.number == 9  # "-": next free number after the file's own
    assert second.offset == datetime.timedelta(minutes=15) and second.dependencies == [1]
    # A story time with a date is shown as written and scheduled after the row above.
    assert by_row["Chrono!10"].scheduled_at is None and by_row["Chrono!10"].story_time == "12H30 (08/08/2024)"
    assert by_row["Chrono!10"].offset == second.offset + chrono.ORDER_STEP
    assert by_row["Chrono!10"].channel == Channel.PRESS_ARTICLE
    assert by_row["Chrono!11"].offset == datetime.timedelta(minutes=45)
    assert by_row["Chrono!11"].channel == Channel.SOCIAL_POST
    assert by_row["Chrono!14"].offset == datetime.timedelta(minutes=45)
    assert by_row["Chrono!15"].story_time == "14h00 (08/08/2024)" and by_row["Chrono!15"].channel == Channel.ORAL
    assert by_row["Chrono!15"].offset == by_row["Chrono!14"].offset + chrono.ORDER_STEP
    assert [r.description for r in first.expected_reactions] == ["Prévenir le RSSI", "Ouvrir la main courante"]
    assert first.deliverable == "Main courante"


def test_it_saves_nothing_while_errors_remain_unless_only_good_rows(world: Any) -> None:
    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Import")
    result = chrono.read_xlsx(messy_workbook())
    with pytest.raises(ValidationError) as refused:
        chronogramme_import(actor=world.establishment_admin, exercise=exercise, chronogramme=result)
    assert any("Chrono!12" in m for m in refused.value.messages)
    assert exercise.injects.count() == 0
    created = chronogramme_import(
        actor=world.establishment_admin, exercise=exercise, chronogramme=result, only_good_rows=True
    )
    assert len(created) == 6
    assert sorted(exercise.injects.values_list("number", flat=True)) == [1, 2, 3, 4, 8, 9]
    assert [d.number for d in exercise.injects.get(number=2).dependencies.all()] == [1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10h15", chrono.ParsedTime(time_of_day=datetime.time(10, 15))),
        ("10H", chrono.ParsedTime(time_of_day=datetime.time(10, 0))),
        ("13:30:00", chrono.ParsedTime(time_of_day=datetime.time(13, 30))),
        ("12H30 (08/08/2024)", chrono.ParsedTime(moment=datetime.datetime(2024, 8, 8, 12, 30))),
        ("+00:45", chrono.ParsedTime(offset=datetime.timedelta(minutes=45))),
        ("T+45", chrono.ParsedTime(offset=datetime.timedelta(minutes=45))),
        ("T+1h30", chrono.ParsedTime(offset=datetime.timedelta(minutes=90))),
        ("T-15", chrono.ParsedTime(offset=datetime.timedelta(minutes=-15))),
        ("-", chrono.ParsedTime()),
        (datetime.time(9, 5), chrono.ParsedTime(time_of_day=datetime.time(9, 5))),
        (0.5, chrono.ParsedTime(time_of_day=datetime.time(12, 0))),
        ("Plusieurs jours avant l'exercice", None),
        ("25h00", None),
    ],
)
def test_it_reads_the_times_kits_write(text: Any, expected: Any) -> None:
    assert chrono.parse_time(text) == expected


def test_it_guesses_the_columns_of_the_usual_french_headers() -> None:
    headers = ["N°", "Heure", "Phase", "Canal", "Émetteur", "Cellule destinataire",
               "Destinataire au sein de la cellule", "Stimulus", "Réactions attendues", "Commentaire", "Livrable"]
    assert list(chrono.guess_mapping(headers).values()) == [
        "number", "time", "phase", "channel", "sender", "target_cell", "target_role", "content",
        "expected_reactions", "comment", "deliverable",
    ]


def test_it_refuses_unknown_headers_until_the_user_maps_the_columns() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Col A", "Quand", "Comment", "Quoi"])
    sheet.append([1, "09h00", "courriel", "Premier message"])
    sheet.append([2, "09h10", "texto", "Deuxième message"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(chrono.ChronogrammeFileError):
        chrono.read_xlsx(buffer.getvalue())
    result = chrono.read_xlsx(buffer.getvalue(), mapping={0: "number", 1: "time", 2: "channel", 3: "content"})
    assert result.errors == []
    assert [(i.number, i.channel, i.offset) for i in result.injects] == [
        (1, Channel.EMAIL, datetime.timedelta(0)), (2, Channel.SMS, datetime.timedelta(minutes=10)),
    ]


def test_it_reports_a_cycle_of_dependencies_and_saves_nothing(world: Any) -> None:
    document = {
        "format": "planblanc-chronogramme", "format_version": 1,
        "injects": [
            {"number": 1, "subject": "a", "after": [3]},
            {"number": 2, "subject": "b", "after": [1]},
            {"number": 3, "subject": "c", "after": [2]},
        ],
    }
    result = chrono.read_json(document)
    assert len(result.errors) == 1 and "1 → 3 → 2 → 1" in result.errors[0].message
    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Cycle")
    with pytest.raises(ValidationError):
        chronogramme_import(actor=world.establishment_admin, exercise=exercise, chronogramme=result)
    assert exercise.injects.count() == 0


def test_it_refuses_a_newer_json_format_version() -> None:
    with pytest.raises(chrono.ChronogrammeFileError, match="version 2"):
        chrono.read_json({"format": "planblanc-chronogramme", "format_version": 2, "injects": []})


def _comparable(exercise: Exercise) -> list[tuple[Any, ...]]:
    return [
        (
            i.number, i.phase, i.due_offset(exercise.planned_start), i.channel, i.sender, i.target_cell,
            i.target_role, i.subject, i.content, i.kind, i.comment, i.deliverable,
            sorted(d.number for d in i.dependencies.all()),
            [(r.description, r.deadline, r.criterion.area if r.criterion else None) for r in i.expected_reactions.all()],
        )
        for i in exercise.injects.order_by("number")
    ]


@pytest.mark.parametrize("start", [None, datetime.datetime(2026, 3, 12, 9, 0)])
def test_it_round_trips_a_kit_through_xlsx(world: Any, start: datetime.datetime | None) -> None:
    aware = timezone.make_aware(start) if start else None
    source = exercise_create_from_kit(
        actor=world.establishment_admin, establishment=world.chu, kit_slug="intermediaire-exfiltration",
        title="Source", start=aware,
    )
    data = chrono.export_xlsx(source)
    result = chrono.read_xlsx(data, start=aware)
    assert result.errors == [] and result.sheet == "Chronogramme"
    copy = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Copie", planned_start=aware)
    chronogramme_import(actor=world.establishment_admin, exercise=copy, chronogramme=result)
    assert _comparable(copy) == _comparable(source)
    assert len(_comparable(copy)) == 36  # with the journalist's call of the public feed


def test_it_round_trips_a_kit_through_json(world: Any) -> None:
    source = exercise_create_from_kit(
        actor=world.establishment_admin, establishment=world.chu, kit_slug="confirme-multisite", title="Source",
    )
    document = json.loads(json.dumps(chrono.export_json(source)))
    assert document["format_version"] == chrono.FORMAT_VERSION
    copy = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Copie")
    chronogramme_import(actor=world.establishment_admin, exercise=copy, chronogramme=chrono.read_json(document))
    assert _comparable(copy) == _comparable(source)
    assert chrono.export_json(copy)["injects"] == document["injects"]


@needs_real_files
def test_it_imports_the_ans_intermediate_kit_spreadsheet(world: Any) -> None:
    data = (REAL_FILES / "ans-kit-intermediaire-esms.xlsx").read_bytes()
    result = chrono.read_xlsx(data)
    assert result.sheet == "Chronogramme ESMS"
    assert result.sheet_names == ["Chronogramme ESMS", "Feuille 1", "Mode demploi"]
    assert result.header_row == 3
    assert len(result.injects) == 42
    # The only unreadable row: the mailing sent "several days before the exercise".
    assert [e.where for e in result.errors] == ["Chronogramme ESMS!4"]
    channels = {i.channel for i in result.injects}
    assert {Channel.PHONE_CALL, Channel.EMAIL, Channel.ORAL} <= channels
    assert sum(1 for i in result.injects if i.channel == Channel.PHONE_CALL) >= 18
    assert all(i.offset is not None for i in result.injects if i.where != "Chronogramme ESMS!4")
    assert max(i.offset for i in result.injects if i.offset is not None) >= datetime.timedelta(hours=2)
    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="ESMS")
    created = chronogramme_import(
        actor=world.establishment_admin, exercise=exercise, chronogramme=result, only_good_rows=True
    )
    assert len(created) == 41
    assert exercise.injects.values("number").distinct().count() == 41  # repeated numbers renumbered

    tango = chrono.read_xlsx(data, sheet="Feuille 1")
    assert tango.header_row == 5 and tango.errors == []
    assert [i.phase.split(" (")[0] for i in tango.injects] == ["TANGO 1", "TANGO 1"]
    assert len(tango.warnings) >= 30  # the template's empty rows are skipped, and said so


@needs_real_files
def test_it_imports_the_murail_sample_chronogramme(world: Any) -> None:
    result = chrono.read_xlsx((REAL_FILES / "murail-sample-chronogramme.xlsx").read_bytes())
    assert result.errors == []
    assert len(result.injects) == 81
    assert result.injects[0].offset == datetime.timedelta(0)
    assert max(i.offset for i in result.injects if i.offset is not None) >= datetime.timedelta(hours=5)
    assert sum(1 for i in result.injects if i.expected_reactions) >= 75
    assert sum(1 for i in result.injects if i.deliverable) >= 5
    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Murail")
    assert len(chronogramme_import(actor=world.establishment_admin, exercise=exercise, chronogramme=result)) == 81
