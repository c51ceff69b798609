"""One staged-upload mechanism for every upload → preview → confirm flow: owner only,
expires, cleaned up, nothing on disk; hostile files are refused through the pages with a
French message and nothing staged."""

from __future__ import annotations

import datetime
import io
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from planblanc.core import staging
from planblanc.core.models import StagedUpload
from planblanc.directory.models import ImportBatch, ImportStatus
from planblanc.exercises.models import Exercise
from planblanc.exercises.services import exercise_create_from_kit
from tests.core.test_tabular import SHEET_HEAD, with_sheet
from tests.directory.import_helpers import PERSON_HEADER, xlsx_bytes
from tests.exercises.test_chronogramme import messy_workbook


@pytest.fixture
def exercise(world: Any) -> Exercise:
    return exercise_create_from_kit(
        actor=world.establishment_admin, establishment=world.chu, kit_slug="debutant-rancongiciel", title="Exercice",
    )


def far_row_bomb() -> bytes:
    return with_sheet(lambda: iter([
        SHEET_HEAD, b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Nom</t></is></c></row>',
        b'<row r="300000000"><c r="A300000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>',
    ]))


def test_a_staged_upload_is_its_owners_alone_and_expires(world: Any) -> None:
    staged = staging.staged_upload_create(owner=world.establishment_admin, purpose="p", filename="f.xlsx",
                                          content=b"data", payload={"a": 1})
    assert staging.staged_upload_get(owner=world.establishment_admin, purpose="p").content == b"data"
    from django.http import Http404

    with pytest.raises(Http404):
        staging.staged_upload_get(owner=world.outsider_admin, purpose="p")
    with pytest.raises(Http404):
        staging.staged_upload_get(owner=world.establishment_admin, purpose="p", token="guess")
    StagedUpload.objects.filter(pk=staged.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(Http404):
        staging.staged_upload_get(owner=world.establishment_admin, purpose="p")
    # The next upload, by anyone, cleans expired ones up.
    staging.staged_upload_create(owner=world.outsider_admin, purpose="q")
    assert not StagedUpload.objects.filter(pk=staged.pk).exists()


def test_the_chronogramme_flow_stages_in_the_table_and_cleans_up(client_for: Any, exercise: Exercise) -> None:
    client = client_for("establishment_admin")
    upload = io.BytesIO(messy_workbook())
    upload.name = "chrono.xlsx"
    staging_dir = Path(settings.DATA_DIR) / "exercise-imports"
    before = set(staging_dir.iterdir()) if staging_dir.exists() else set()
    assert client.post(reverse("exercises:import_upload", args=[exercise.pk]),
                       {"file": upload, "replace": "on"}).status_code == 302
    staged = StagedUpload.objects.get()
    assert staged.filename == "chrono.xlsx" and staged.payload == {"replace": True, "kind": "xlsx"}
    assert "exercise-import-" not in str(dict(client.session))
    after = set(staging_dir.iterdir()) if staging_dir.exists() else set()
    assert after == before  # nothing written to disk
    # Another member of the cell does not see it.
    other = client_for("exercise_animator")
    assert other.get(reverse("exercises:import_preview", args=[exercise.pk])).status_code == 404
    done = client.post(reverse("exercises:import_preview", args=[exercise.pk]),
                       {"action": "import", "sheet": "Chrono", "col_number": "0", "col_time": "1",
                        "col_sender": "3", "col_target_cell": "4", "col_content": "5",
                        "col_dependencies": "9", "only_good_rows": "on"})
    assert done.status_code == 302
    assert not StagedUpload.objects.exists()
    # Expired: the preview answers 404 with nothing to import.
    upload.seek(0)
    client.post(reverse("exercises:import_upload", args=[exercise.pk]), {"file": upload})
    StagedUpload.objects.update(expires_at=timezone.now())
    assert client.get(reverse("exercises:import_preview", args=[exercise.pk])).status_code == 404


def test_the_directory_flow_keeps_rows_in_a_staged_upload_until_confirmed(world: Any, client_for: Any) -> None:
    client = client_for("establishment_admin")
    content = xlsx_bytes([PERSON_HEADER, ["Martin", "Léa", "lea@chu-a.example", "06 39 98 00 01",
                                          world.chu.finess, "", "ciso"]])
    client.post(reverse("directory:import_start"), {"kind": "people", "file": SimpleUploadedFile("e.xlsx", content)})
    batch = ImportBatch.objects.get()
    assert batch.staged is not None and batch.rows[0]["cells"]["last_name"] == "Martin"
    # Expired before confirmation: the batch counts as cancelled and its rows are gone.
    StagedUpload.objects.update(expires_at=timezone.now())
    assert client.get(reverse("directory:import_start")).status_code == 200
    batch.refresh_from_db()
    assert batch.status == ImportStatus.CANCELLED and batch.rows == [] and not StagedUpload.objects.exists()
    assert client.post(reverse("directory:import_confirm", args=[batch.pk]), {"only_good_rows": "1"}).status_code \
        in (302, 404)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.CANCELLED


@pytest.mark.parametrize("target", ["directory", "chronogramme"])
def test_a_bomb_uploaded_through_the_pages_is_refused_in_french_fast_and_nothing_is_stored(
    world: Any, client_for: Any, exercise: Exercise, target: str
) -> None:
    client = client_for("establishment_admin")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    content = far_row_bomb()
    tracemalloc.start()
    started = time.process_time()
    if target == "directory":
        response = client.post(reverse("directory:import_start"),
                               {"kind": "people", "file": SimpleUploadedFile("bombe.xlsx", content)})
        seconds = time.process_time() - started
        body = response.content.decode()
        assert response.status_code == 200
        assert "plus de 20" in body and "lignes" in body
        assert not ImportBatch.objects.exists()
    else:
        response = client.post(reverse("exercises:import_upload", args=[exercise.pk]),
                               {"file": SimpleUploadedFile("bombe.xlsx", content)})
        seconds = time.process_time() - started
        assert response.status_code == 422
        assert "plus de 5" in response.content.decode()
        assert not StagedUpload.objects.exists()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 1.0, seconds
    assert peak < 50 * 2**20, peak
