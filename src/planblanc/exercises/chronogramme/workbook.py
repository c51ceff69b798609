"""Reading a workbook: bounded by core.tabular, the sheet that looks most like a
chronogramme, then its rows handed to the builder."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext as _

from planblanc.core import tabular
from planblanc.exercises.chronogramme.building import parse_rows
from planblanc.exercises.chronogramme.headers import find_header
from planblanc.exercises.chronogramme.parsed import Chronogramme, ChronogrammeFileError

# Workbooks are read by core.tabular, bounded in size, rows, cells and time.
CHRONOGRAMME_LIMITS = tabular.Limits(max_bytes=5 * 1024 * 1024, max_rows=5_000, max_columns=60,
                                     max_cell_chars=20_000)


def read_workbook(data: bytes) -> tabular.Workbook:
    try:
        return tabular.read_workbook(data, limits=CHRONOGRAMME_LIMITS)
    except tabular.FileRefused as exc:
        raise ChronogrammeFileError(" ".join(exc.messages)) from exc


def sheet_rows(workbook: tabular.Workbook, name: str, *, max_row: int | None = None) -> list[tuple[Any, ...]]:
    try:
        return workbook.sheet(name, max_rows=max_row).values()
    except tabular.FileRefused as exc:
        raise ChronogrammeFileError(" ".join(exc.messages)) from exc


def pick_sheet(workbook: tabular.Workbook) -> str:
    """The sheet whose header row looks most like a chronogramme."""
    best_name, best_score = workbook.sheetnames[0], -1
    for name in workbook.sheetnames:
        rows = sheet_rows(workbook, name, max_row=40)
        _index, score = find_header(rows)
        if score > best_score:
            best_name, best_score = name, score
    return best_name


def read_xlsx(
    data: bytes,
    *,
    sheet: str | None = None,
    mapping: dict[int, str] | None = None,
    start: datetime.datetime | None = None,
    used_numbers: set[int] | None = None,
) -> Chronogramme:
    workbook = read_workbook(data)
    try:
        names = list(workbook.sheetnames)
        if sheet is not None and sheet not in names:
            raise ChronogrammeFileError(_("The workbook has no sheet “%(sheet)s”.") % {"sheet": sheet})
        chosen = sheet or pick_sheet(workbook)
        rows = sheet_rows(workbook, chosen)
    finally:
        workbook.close()
    if not rows:
        raise ChronogrammeFileError(_("Sheet “%(sheet)s” is empty.") % {"sheet": chosen})
    result = parse_rows(rows, sheet=chosen, mapping=mapping, start=start, used_numbers=used_numbers)
    result.sheet_names = names
    return result
