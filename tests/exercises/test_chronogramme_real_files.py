"""Chronogrammes as real regional files write them, on small workbooks written here: a
time followed by a note keeps the time and moves the note to the comment; marker rows
(DEBEX/FINEX, start or end of exercise, pauses) are neither injects nor phases;
misspelled headers are recognised by closeness above a threshold; state columns
exclude rows (kept, never fired); kind columns (structurant, saturant, parasite)."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
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
    # DEBEX at 9H00 is T+0.
    assert by_number[1].offset == datetime.timedelta(minutes=5)
    assert by_number[2].offset == datetime.timedelta(hours=5, minutes=25)
    assert "Différence à prévoir avec le chrono préfecture" in by_number[2].comment
    assert by_number[4].offset == datetime.timedelta(hours=2)
    assert "décalage possible" in by_number[4].comment
    # Marker rows are not phases: every inject keeps its own phase column.
    assert {i.phase for i in result.injects} == {"Alerte", "Crise"}
    # Marker rows become markers of the timeline, at their time (written in the row, in
    # the time column, or else the time of the inject before them).
    assert [(m.where, m.kind, m.offset) for m in result.markers] == [
        ("Chrono GHT!3", "start", datetime.timedelta(0)),
        ("Chrono GHT!6", "pause", datetime.timedelta(hours=3)),
        ("Chrono GHT!10", "end", datetime.timedelta(hours=2, minutes=15)),
        ("Chrono GHT!11", "end", datetime.timedelta(hours=2, minutes=15)),
    ]
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


@pytest.mark.django_db
def test_markers_are_stored_shown_and_never_fired(world: Any, client_for: Any) -> None:
    from django.urls import reverse

    from planblanc.exercises.run import run_start, runs_process

    start = datetime.datetime(2026, 9, 18, 7, 0, tzinfo=datetime.UTC)  # 9h00 in Paris
    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Régional marqueurs",
                               planned_start=start)
    chronogramme_import(actor=world.establishment_admin, exercise=exercise,
                        chronogramme=chrono.read_xlsx(regional_file(), start=start))
    assert list(exercise.markers.values_list("kind", "label")) == [
        ("start", "DEBEX PREFECTURE 9H00"), ("end", "FINEX PREFECTURE"), ("end", "Fin d'exercice"),
        ("pause", "Pause déjeuner")]
    page = client_for("establishment_admin").get(reverse("exercises:detail", args=[exercise.pk]))
    body = page.content.decode()
    assert body.count('class="table-light timeline-marker"') == 4
    # The start marker comes before inject 1, the pause (12h00) after inject 4 (11h00).
    assert body.index("DEBEX PREFECTURE") < body.index("Rançongiciel au CH voisin")
    assert body.index("COD activé") < body.index("Pause déjeuner") < body.index("Appel d&#x27;un journaliste")
    services.participant_add(actor=world.establishment_admin, exercise=exercise, role="animator",
                             person=person_in(world.chu, email="anim-markers@chu-a.example"))
    run = run_start(actor=world.establishment_admin, exercise=exercise, now=start)
    runs_process(now=start + datetime.timedelta(hours=8))
    assert run.injects.count() == 5  # one row per inject, none for the markers
    assert not run.injects.filter(inject__subject__icontains="DEBEX").exists()
    console = client_for("establishment_admin").get(reverse("exercises:run_state", args=[exercise.pk]))
    assert 'id="markers"' in console.content.decode() and "FINEX PREFECTURE" in console.content.decode()
    # Export and import again: the markers come back as markers, at their times.
    again = chrono.read_xlsx(chrono.export_xlsx(exercise), start=start)
    assert sorted((m.offset, m.kind) for m in again.markers) == [
        (datetime.timedelta(0), "start"), (datetime.timedelta(hours=2, minutes=15), "end"),
        (datetime.timedelta(hours=2, minutes=15), "end"), (datetime.timedelta(hours=3), "pause")]
    document = chrono.read_json(chrono.export_json(exercise))
    assert sorted(m.label for m in document.markers) == sorted(exercise.markers.values_list("label", flat=True))


def story_file(*, with_real_time: bool) -> bytes:
    headers = ["N°", "Heure simulée", *(["Heure réelle"] if with_real_time else []), "Stimulus"]
    rows = [
        [1, "08H00 (07/08/2024)", *(["10h00"] if with_real_time else []), "Alerte du SAMU"],
        [2, "12H30 (08/08/2024)", *(["10h40"] if with_real_time else []), "Article de presse"],
        [3, "18H00 (08/08/2024)", *(["11h10"] if with_real_time else []), "Appel du ministère"],
    ]
    return _workbook([headers, *rows])


def test_a_story_time_with_a_date_is_shown_and_scheduled_from_the_real_time_column() -> None:
    result = chrono.read_xlsx(story_file(with_real_time=True))
    assert result.is_clean and result.mapping[2] == "real_time"
    assert [i.story_time for i in result.injects] == ["08H00 (07/08/2024)", "12H30 (08/08/2024)", "18H00 (08/08/2024)"]
    assert [i.offset for i in result.injects] == [
        datetime.timedelta(0), datetime.timedelta(minutes=40), datetime.timedelta(minutes=70)]
    assert all(i.scheduled_at is None for i in result.injects)


def test_a_story_time_with_a_date_follows_the_file_order_without_a_real_time_column() -> None:
    result = chrono.read_xlsx(story_file(with_real_time=False))
    assert result.is_clean
    assert [i.story_time for i in result.injects][1] == "12H30 (08/08/2024)"
    assert [i.offset for i in result.injects] == [chrono.ORDER_STEP * n for n in (1, 2, 3)]
    assert all(i.scheduled_at is None for i in result.injects)
    assert len(result.warnings) == 3  # each says the story time is shown, the schedule follows the order


@pytest.mark.django_db
def test_the_story_time_survives_an_import_an_export_and_the_player_inbox(world: Any, client_for: Any) -> None:
    from django.urls import reverse

    from planblanc.exercises.run import inject_fire, run_start

    exercise = exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Histoire",
                               planned_start=datetime.datetime(2026, 9, 18, 8, 0, tzinfo=datetime.UTC))
    chronogramme_import(actor=world.establishment_admin, exercise=exercise,
                        chronogramme=chrono.read_xlsx(story_file(with_real_time=True)))
    assert exercise.injects.get(number=2).story_time == "12H30 (08/08/2024)"
    again = chrono.read_xlsx(chrono.export_xlsx(exercise))
    assert [(i.story_time, i.offset) for i in again.injects] == [
        (i.story_time, i.offset) for i in exercise.injects.order_by("number")]
    assert [i.story_time for i in chrono.read_json(chrono.export_json(exercise)).injects][2] == "18H00 (08/08/2024)"
    services.participant_add(actor=world.establishment_admin, exercise=exercise, role="animator",
                             person=person_in(world.chu, email="anim-story@chu-a.example"))
    run = run_start(actor=world.establishment_admin, exercise=exercise)
    inject_fire(actor=world.establishment_admin, row=run.injects.get(inject__number=2))
    inbox = client_for("establishment_admin").get(reverse("exercises:run_player_inbox", args=[exercise.pk]))
    assert "12H30 (08/08/2024)" in inbox.content.decode()


FIXTURES = sorted((Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "chronogrammes").glob("*.xlsx")) or \
    sorted(Path("/work/shared/fixtures/chronogrammes").glob("*.xlsx"))


def _stimulus_rows(data: bytes) -> int:
    """Rows below the header with a stimulus (content or subject) and at least one other
    filled cell: what a reader of the file counts as stimuli, marker rows left out."""
    workbook = chrono.read_workbook(data)
    try:
        rows = chrono.sheet_rows(workbook, chrono.pick_sheet(workbook))
    finally:
        workbook.close()
    index, _score = chrono.find_header(rows)
    columns = {name: i for i, name in chrono.guess_mapping(list(rows[index])).items()}
    count = 0
    for row in rows[index + 1:]:
        filled = [v for v in row if chrono.cell_text(v)]
        stimulus = any(chrono.cell_text(row[columns[n]]) for n in ("content", "subject")
                       if n in columns and columns[n] < len(row))
        if stimulus and len(filled) >= 2 and not chrono.is_marker(chrono.cell_text(filled[0])):
            count += 1
    return count


@pytest.mark.skipif(not FIXTURES, reason="the shared chronogramme fixtures are not on this machine")
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_imports_at_least_95_percent_of_its_stimuli_without_editing(path: Path) -> None:
    data = path.read_bytes()
    result = chrono.read_xlsx(data)
    expected = _stimulus_rows(data)
    imported = [i for i in result.injects if i.where not in result.bad_rows]
    share = len(imported) / expected
    print(f"\n{path.name}: {len(imported)} of {expected} stimuli rows imported ({share:.1%}), "
          f"{len(result.markers)} markers, {len(result.errors)} errors, kinds "
          f"{sorted({i.kind for i in imported})}, {len({i.phase for i in imported})} phases")
    assert share >= 0.95
    # No marker row taken as a phase, every kind known, no story date turned into a far date.
    assert not {m.label for m in result.markers} & {i.phase for i in imported}
    assert {i.kind for i in imported} <= {"structuring", "saturating", "noise"}
    assert all(i.scheduled_at is None for i in imported)
