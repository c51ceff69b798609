"""Building import files in tests: CSV in any dialect, XLSX, and the upload itself."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.utils import translation
from openpyxl import Workbook, load_workbook

from planblanc.directory import importing

PERSON_HEADER = ["Nom", "Prénom", "Email", "Mobile", "FINESS établissement", "Service", "Fonction"]
ESTABLISHMENT_HEADER = ["FINESS", "Nom", "Catégorie", "Région", "GHT", "Prioritaire", "OSE", "Standard"]


def csv_bytes(rows: list[list[Any]], *, delimiter: str = ";", bom: bool = False, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_bytes(rows: list[list[Any]], fmt: str) -> tuple[str, bytes]:
    if fmt == "xlsx":
        return "annuaire.xlsx", xlsx_bytes(rows)
    return "annuaire.csv", csv_bytes(rows)


def upload(actor: Any, kind: str, rows: list[list[Any]], *, fmt: str = "csv", establishment: Any = None) -> Any:
    filename, content = file_bytes(rows, fmt)
    with translation.override("en"):
        return importing.directory_import_upload(
            actor=actor, kind=kind, filename=filename, content=content, establishment=establishment
        )


def apply(actor: Any, batch: Any, *, only_good_rows: bool = False) -> dict[str, Any]:
    with translation.override("en"):
        return importing.directory_import_apply(actor=actor, batch=batch, only_good_rows=only_good_rows)


def errors_by_line(batch: Any) -> dict[int, str]:
    return {error["line"]: " | ".join(error["messages"]) for error in batch.errors}


def xlsx_rows(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]
