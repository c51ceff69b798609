"""Chronogrammes as real regional files write them, on small workbooks written here: a
time followed by a note keeps the time and moves the note to the comment; marker rows
(DEBEX/FINEX, start or end of exercise, pauses) are neither injects nor phases;
misspelled headers are recognised by closeness above a threshold; state columns
exclude rows (kept, never fired); kind columns (structurant, saturant, parasite)."""

from __future__ import annotations

import datetime
import io
from typing import Any

import openpyxl
import pytest

from planblanc.exercises import chronogramme as chrono
from planblanc.exercises import services
from planblanc.exercises.models import InjectState
from planblanc.exercises.services import chronogramme_import, exercise_create
from tests.exercises.runkit import person_in


def _workbook(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Chrono GHT"
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


HEADERS = ["N°", "Heure", "Phase", "Type de stimuli", "Emetteur", "Destinataire spécifique", "Stmulis", "Etat"]


def regional_file() -> bytes:
    return _workbook([
        ["EXERCICE RÉGIONAL CYBER — CHRONOGRAMME"],
        HEADERS,
        ["DEBEX PREFECTURE 9H00"],                                                             # 3
        [1, "09H05", "Alerte", "Structurant", "ARS", "Directeur", "Rançongiciel au CH voisin", "✅"],  # 4
        [2, "14H25\nDifférence à prévoir avec le chrono préfecture", "Alerte", "Saturant", "Presse",
         "Communication", "Appel d'un journaliste", "✅"],                                    # 5
        ["", datetime.time(12, 0), "", "", "", "", "Pause déjeuner", ""],                       # 6
        [3, "10h40", "Crise", "Parasite", "Standard", "Cadre de santé", "Patient mécontent", "❌"],  # 7
        [4, "11H00 décalage possible", "Crise", "Structurant", "Préfecture", "Directeur", "COD activé",
         "annulé"],                                                                           # 8
        [5, "11H15", "Crise", "structurant", "CERT Santé", "RSSI", "IOC partagés", ""],        # 9
        ["FINEX PREFECTURE"],                                                                  # 10
        ["Fin d'exercice"],                                                                    # 11
    ])


def test_it_reads_a_regional_file_without_editing() -> None:
    result = chrono.read_xlsx(regional_file())
    assert result.is_clean, [str(e) for e in result.errors]
    assert [i.source_number for i in result.injects] == [1, 2, 3, 4, 5]
    by_number = {i.source_number: i for i in result.injects}
    # A readable time followed by a note: the time is kept, the note goes to the comment.
    assert by_number[2].offset == datetime.timedelta(hours=5, minutes=20)
    assert "Différence à prévoir avec le chrono préfecture" in by_number[2].comment
    assert by_number[4].offset == datetime.timedelta(hours=1, minutes=55)
    assert "décalage possible" in by_number[4].comment
    # Marker rows are not phases: every inject keeps its own phase column.
    assert {i.phase for i in result.injects} == {"Alerte", "Crise"}
    noted = {w.where for w in result.warnings}
    assert {f"Chrono GHT!{line}" for line in (3, 6, 10, 11)} <= noted
    # Kind, state and the misspelled "Stmulis" column.
    assert [i.kind for i in result.injects] == ["structuring", "saturating", "noise", "structuring", "structuring"]
    assert [i.excluded for i in result.injects] == [False, False, True, True, False]
    assert by_number[3].content == "Patient mécontent"
    assert by_number[1].target_cell == "Directeur"
    # The mapping step names the column it recognised by closeness, for the user to check.
    assert [header for header, _label in result.fuzzy_headers] == ["Stmulis"]


def test_misspelled_headers_are_matched_above_a_threshold_only() -> None:
    assert chrono.guess_field("Stmulis") == "content"
    assert chrono.guess_field("Stimulis") == "content"
    assert chrono.guess_field("Canl") == "channel"
    assert chrono.is_fuzzy_header("Stmulis") and not chrono.is_fuzzy_header("Stimulus")
    assert chrono.guess_field("Budget") is None
    assert chrono.guess_field("Stylo") is None


@pytest.mark.parametrize(("cell", "excluded"), [
    ("✅", False), ("❌", True), ("exclu", True), ("Annulé", True), ("", False), ("OK", False), ("non retenu", True),
])
def test_it_reads_state_cells(cell: str, excluded: bool) -> None:
    assert chrono.parse_state(cell) is excluded


def test_an_unreadable_state_is_an_error_on_its_row() -> None:
    result = chrono.read_xlsx(_workbook([HEADERS, [1, "10h00", "A", "Structurant", "ARS", "Dir", "Texte", "peut-être"]]))
    assert any("peut-être" in e.message and e.where == "Chrono GHT!2" for e in result.errors)


@pytest.mark.django_db
def test_excluded_injects_are_kept_but_never_fired(world: Any) -> None:
    from planblanc.exercises.run import run_start

    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Régional",
                               planned_start=datetime.datetime(2026, 9, 18, 9, 0, tzinfo=datetime.UTC))
    created = chronogramme_import(actor=world.establishment_admin, exercise=exercise,
                                  chronogramme=chrono.read_xlsx(regional_file()))
    assert len(created) == 5
    assert sorted(exercise.injects.filter(excluded=True).values_list("number", flat=True)) == [3, 4]
    services.participant_add(actor=world.establishment_admin, exercise=exercise, role="animator",
                             person=person_in(world.chu, email="anim-regional@chu-a.example"))
    run = run_start(actor=world.establishment_admin, exercise=exercise)
    states = dict(run.injects.values_list("inject__number", "state"))
    assert states[3] == states[4] == InjectState.EXCLUDED
    assert states[1] == states[5] == InjectState.PENDING
    # The exclusion survives an export and a re-import.
    again = chrono.read_xlsx(chrono.export_xlsx(exercise))
    assert sorted(i.number for i in again.injects if i.excluded) == [3, 4]
    document = chrono.read_json(chrono.export_json(exercise))
    assert sorted(i.number for i in document.injects if i.excluded) == [3, 4]
