from __future__ import annotations

import datetime
import io
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from planblanc.exercises import chronogramme as chrono
from planblanc.exercises.models import Exercise, Inject, Participant
from planblanc.exercises.services import exercise_create_from_kit
from tests.exercises.test_chronogramme import messy_workbook


@pytest.fixture
def exercise(world: Any) -> Exercise:
    return exercise_create_from_kit(
        actor=world.establishment_admin, establishment=world.chu, kit_slug="debutant-rancongiciel",
        title="Exercice CHU", start=timezone.make_aware(datetime.datetime(2026, 3, 12, 9, 0)),
    )


def test_it_shows_the_kit_library_and_recommends_a_kit(client_for: Any) -> None:
    client = client_for("crisis_member")
    page = client.get(reverse("exercises:kits"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Rançongiciel au petit matin" in body and "Rançongiciel sur un GHT" in body
    assert reverse("exercises:create") not in body  # a crisis member cannot create exercises
    answer = client.post(reverse("exercises:kits"), {"plan": "approved", "previous_exercise": "yearly"},
                         HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert "27 / 100" in answer.content.decode()  # (3 + 3) / 22, by hand
    assert "<html" not in answer.content.decode()  # the fragment only


def test_it_lists_exercises_of_the_users_scope_only(world: Any, client_for: Any, exercise: Exercise) -> None:
    exercise_create_from_kit(actor=world.outsider_admin, establishment=world.clinic,
                             kit_slug="debutant-rancongiciel", title="Exercice clinique")
    body = client_for("auditor").get(reverse("exercises:list")).content.decode()
    assert "Exercice CHU" in body and "Exercice clinique" not in body
    assert "table-responsive" in body


@pytest.mark.parametrize("name", ["detail", "export_xlsx", "export_json", "ics"])
def test_it_hides_an_exercise_from_outsiders(client_for: Any, exercise: Exercise, name: str) -> None:
    assert client_for("outsider_admin").get(reverse(f"exercises:{name}", args=[exercise.pk])).status_code == 404


def test_it_hides_an_inject_of_another_exercise_behind_a_404(world: Any, client_for: Any, exercise: Exercise) -> None:
    other = exercise_create_from_kit(actor=world.outsider_admin, establishment=world.clinic,
                                     kit_slug="debutant-rancongiciel", title="Autre")
    foreign = other.injects.first()
    client = client_for("establishment_admin")
    assert client.get(reverse("exercises:inject_edit", args=[exercise.pk, foreign.pk])).status_code == 404
    assert client_for("outsider_admin").post(
        reverse("exercises:inject_delete", args=[exercise.pk, exercise.injects.first().pk])
    ).status_code == 404


@pytest.mark.parametrize("persona", ["auditor", "crisis_member"])
def test_it_lets_read_only_roles_read_but_not_edit(client_for: Any, exercise: Exercise, persona: str) -> None:
    client = client_for(persona)
    page = client.get(reverse("exercises:detail", args=[exercise.pk]))
    assert page.status_code == 200
    assert reverse("exercises:inject_add", args=[exercise.pk]) not in page.content.decode()
    inject = exercise.injects.get(number=1)
    before = inject.subject
    response = client.post(reverse("exercises:inject_edit", args=[exercise.pk, inject.pk]),
                           {"subject": "changé", "offset_minutes": 0, "channel": "email", "kind": "noise"})
    assert response.status_code == 403
    assert client.post(reverse("exercises:inject_delete", args=[exercise.pk, inject.pk])).status_code == 403
    assert client.get(reverse("exercises:import_upload", args=[exercise.pk])).status_code == 403
    inject.refresh_from_db()
    assert inject.subject == before and exercise.injects.count() == 12


def test_it_lets_the_exercise_animator_edit_an_inject(client_for: Any, exercise: Exercise) -> None:
    client = client_for("exercise_animator")
    inject = exercise.injects.get(number=3)
    response = client.post(reverse("exercises:inject_edit", args=[exercise.pk, inject.pk]), {
        "number": 3, "phase": "Phase 1", "offset_minutes": 20, "channel": "sms", "kind": "saturating",
        "subject": "Nouvel objet", "content": "Texte", "dependencies": [exercise.injects.get(number=1).pk],
    })
    assert response.status_code == 302
    inject.refresh_from_db()
    assert (inject.subject, inject.channel, inject.offset) == ("Nouvel objet", "sms", datetime.timedelta(minutes=20))
    assert [d.number for d in inject.dependencies.all()] == [1]


def test_it_refuses_a_cycle_through_the_inject_form(client_for: Any, exercise: Exercise) -> None:
    client = client_for("exercise_animator")
    # Inject 3 waits for 2 (kit); making 2 wait for 3 closes a cycle.
    two, three = exercise.injects.get(number=2), exercise.injects.get(number=3)
    response = client.post(reverse("exercises:inject_edit", args=[exercise.pk, two.pk]), {
        "number": 2, "offset_minutes": 5, "channel": "email", "kind": "structuring", "subject": "x",
        "dependencies": [three.pk],
    })
    assert response.status_code == 422
    assert "2 → 3 → 2" in response.content.decode()
    two.refresh_from_db()
    assert two.subject != "x" and not two.dependencies.exists()


def test_it_imports_a_messy_file_through_preview_and_mapping(client_for: Any, exercise: Exercise) -> None:
    client = client_for("establishment_admin")
    upload = io.BytesIO(messy_workbook())
    upload.name = "chrono.xlsx"
    response = client.post(reverse("exercises:import_upload", args=[exercise.pk]), {"file": upload, "replace": "on"})
    assert response.status_code == 302
    preview = client.get(reverse("exercises:import_preview", args=[exercise.pk]))
    body = preview.content.decode()
    assert "Chrono!12" in body and "Pigeon voyageur" in body and "Chrono!13" in body
    # Confirming while errors remain saves nothing.
    refused = client.post(reverse("exercises:import_preview", args=[exercise.pk]),
                          {"action": "import", "sheet": "Chrono", "col_number": "0", "col_time": "1",
                           "col_channel": "2", "col_sender": "3", "col_target_cell": "4", "col_content": "5",
                           "col_expected_reactions": "6", "col_comment": "7", "col_deliverable": "8",
                           "col_dependencies": "9"})
    assert refused.status_code == 200
    assert exercise.injects.count() == 12
    # The mapping step: leaving the channel column out removes the channel errors.
    done = client.post(reverse("exercises:import_preview", args=[exercise.pk]),
                       {"action": "import", "sheet": "Chrono", "col_number": "0", "col_time": "1",
                        "col_sender": "3", "col_target_cell": "4", "col_content": "5",
                        "col_dependencies": "9", "only_good_rows": "on"})
    assert done.status_code == 302
    assert exercise.injects.count() == 7  # 9 read, the bad time and the missing dependency left out
    assert set(exercise.injects.values_list("channel", flat=True)) == {"email"}


def test_it_exports_xlsx_and_json(client_for: Any, exercise: Exercise) -> None:
    client = client_for("auditor")
    xlsx = client.get(reverse("exercises:export_xlsx", args=[exercise.pk]))
    assert xlsx.status_code == 200
    assert len(chrono.read_xlsx(xlsx.content, start=exercise.planned_start).injects) == 12
    document = json.loads(client.get(reverse("exercises:export_json", args=[exercise.pk])).content)
    assert document["format_version"] == 1 and len(document["injects"]) == 12


def test_it_plans_adds_participants_and_serves_an_invitation(world: Any, client_for: Any, exercise: Exercise) -> None:
    client = client_for("establishment_admin")
    response = client.post(reverse("exercises:schedule", args=[exercise.pk]),
                           {"planned_start": "2026-05-20T14:00", "duration_minutes": 150, "location": "Salle B"})
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.location == "Salle B" and exercise.planned_duration == datetime.timedelta(minutes=150)
    assert client.post(reverse("exercises:participant_add", args=[exercise.pk]),
                       {"person": world.chu_person.pk, "role": "animator", "cell": "Animation"}).status_code == 302
    # Someone of another establishment cannot take part.
    refused = client.post(reverse("exercises:participant_add", args=[exercise.pk]),
                          {"person": world.clinic_person.pk, "role": "player"})
    assert refused.status_code == 422
    participant = Participant.objects.get(exercise=exercise)
    ics = client.get(reverse("exercises:participant_ics", args=[exercise.pk, participant.pk]))
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    from icalendar import Calendar

    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == timezone.make_aware(datetime.datetime(2026, 5, 20, 14, 0))
    assert event.decoded("dtend") - event.decoded("dtstart") == datetime.timedelta(minutes=150)
    assert "Animat" in str(event["description"]) and str(event["location"]) == "Salle B"
    assert client_for("outsider_admin").get(
        reverse("exercises:participant_ics", args=[exercise.pk, participant.pk])
    ).status_code == 404


def test_it_creates_an_exercise_from_a_kit_page(world: Any, client_for: Any) -> None:
    client = client_for("exercise_animator")
    response = client.post(reverse("exercises:create"), {
        "establishment": world.chu.pk, "kit": "intermediaire-exfiltration", "title": "",
        "planned_start": "2026-06-01T08:30",
    })
    assert response.status_code == 302
    exercise = Exercise.objects.get()
    assert exercise.injects.count() == 36 and exercise.status == "planned"
    # An establishment out of scope is not even offered.
    refused = client.post(reverse("exercises:create"), {"establishment": world.clinic.pk, "kit": ""})
    assert refused.status_code == 200 and Exercise.objects.count() == 1
    assert Inject.objects.filter(exercise__establishment=world.clinic).count() == 0


def test_it_imports_a_json_chronogramme_through_the_page(world: Any, client_for: Any, exercise: Exercise) -> None:
    client = client_for("establishment_admin")
    upload = io.BytesIO(json.dumps(chrono.export_json(exercise)).encode())
    upload.name = "chrono.json"
    empty = Exercise.objects.create(establishment=world.chu, title="Vide")
    assert client.post(reverse("exercises:import_upload", args=[empty.pk]), {"file": upload}).status_code == 302
    preview = client.get(reverse("exercises:import_preview", args=[empty.pk]))
    assert preview.status_code == 200 and "Sheet" not in preview.content.decode()
    done = client.post(reverse("exercises:import_preview", args=[empty.pk]), {"action": "import"})
    assert done.status_code == 302 and empty.injects.count() == 12


def test_it_refuses_a_file_that_is_not_a_chronogramme(client_for: Any, exercise: Exercise) -> None:
    client = client_for("establishment_admin")
    upload = io.BytesIO(b"not a workbook")
    upload.name = "chrono.xlsx"
    # Refused at the upload, beside the field; nothing is staged, so there is no preview.
    response = client.post(reverse("exercises:import_upload", args=[exercise.pk]), {"file": upload})
    assert response.status_code == 422 and "invalid-feedback" in response.content.decode()
    assert client.get(reverse("exercises:import_preview", args=[exercise.pk])).status_code == 404
    assert exercise.injects.count() == 12


def test_it_reads_the_list_and_editor_in_few_queries(
    world: Any, client_for: Any, exercise: Exercise, django_assert_max_num_queries: Any
) -> None:
    client = client_for("establishment_admin")
    for n in range(3):
        exercise_create_from_kit(actor=world.establishment_admin, establishment=world.chu,
                                 kit_slug="confirme-multisite", title=f"E{n}")
    with django_assert_max_num_queries(15):
        assert client.get(reverse("exercises:list")).status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get(reverse("exercises:detail", args=[exercise.pk])).status_code == 200


def test_it_links_the_exercise_page_to_its_live_run_spaces(client_for: Any, exercise: Exercise) -> None:
    client = client_for("exercise_animator")
    page = client.get(reverse("exercises:detail", args=[exercise.pk])).content.decode()
    for name in ("run_console", "run_player", "run_observer"):
        url = reverse(f"exercises:{name}", args=[exercise.pk])
        assert url in page
        assert client.get(url).status_code == 200, name
    # Evaluation and report exist once the exercise has been run.
    for name in ("run_evaluation", "run_report"):
        assert reverse(f"exercises:{name}", args=[exercise.pk]) not in page
