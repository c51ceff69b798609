"""Reading an uploaded file into a header and rows, and matching its header cells to
our columns."""


from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext as _

from planblanc.core import tabular
from planblanc.core.tabular import norm
from planblanc.directory.importing.columns import (
    COLUMNS,
    HEADER_SEARCH_LINES,
    MAX_BYTES,
    MAX_COLUMNS,
    MAX_ROWS,
    column_index,
)


@dataclass
class Table:
    header: list[str]
    header_line: int
    rows: list[tuple[int, list[str]]]  # (line number as a spreadsheet shows it, cells)


def file_error(message: str) -> ValidationError:
    return ValidationError(message, code="bad_file")


# Rows are bounded by index (title lines above the header included), then by count.
LIMITS = tabular.Limits(max_bytes=MAX_BYTES, max_rows=MAX_ROWS + 1 + HEADER_SEARCH_LINES, max_columns=MAX_COLUMNS,
                        max_cell_chars=2_000)


def read_table(*, filename: str, content: bytes) -> Table:
    """The file's header and rows (empty lines left out), or a ValidationError saying what
    is wrong with the file (tabular.FileRefused)."""
    sheet = tabular.read_table(filename=filename, content=content, limits=LIMITS)
    if not sheet.rows:
        raise file_error(_("The file is empty."))
    (header_line, header), *rows = sheet.rows
    if len(rows) > MAX_ROWS:
        raise file_error(
            _("The file has more than %(max)s lines: split it into several files.")
            % {"max": formats.number_format(MAX_ROWS, force_grouping=True)}
        )
    return Table(header=header, header_line=header_line, rows=rows)


@dataclass
class ColumnMatch:
    keys: dict[int, str]  # position in the file → column key
    labels: dict[str, str]  # column key → the header as written in the file
    ignored: list[str]


def match_columns(*, kind: str, header: list[str], optional: Iterable[str] = ()) -> ColumnMatch:
    index = column_index(kind)
    keys: dict[int, str] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for position, text in enumerate(header):
        column = index.get(norm(text))
        if column is None:
            if text:
                ignored.append(text)
            continue
        if column.key in labels:
            raise file_error(
                _("Two columns mean the same thing: “%(first)s” and “%(second)s”. Keep only one.")
                % {"first": labels[column.key], "second": text}
            )
        keys[position] = column.key
        labels[column.key] = text
    expected = ", ".join(column.header for column in COLUMNS[kind])
    if not keys:
        raise file_error(
            _("No known column in the first line of the file. Expected columns: %(columns)s.") % {"columns": expected}
        )
    missing = [
        column.header for column in COLUMNS[kind]
        if column.required and column.key not in labels and column.key not in set(optional)
    ]
    if missing:
        raise file_error(
            _("Missing columns: %(missing)s. Expected columns: %(columns)s.")
            % {"missing": ", ".join(missing), "columns": expected}
        )
    return ColumnMatch(keys=keys, labels=labels, ignored=ignored)


def header_find(kind: str, table: Table) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header line: the first one, unless a title sits above it (as in many exports
    from HR software): then the first of the next lines that names two of our columns."""
    index = column_index(kind)
    candidates = [(table.header_line, table.header), *table.rows[:HEADER_SEARCH_LINES]]
    for position, (_line, cells) in enumerate(candidates):
        if sum(1 for cell in cells if norm(cell) in index) >= 2:
            return cells, table.rows[position:]
    return table.header, table.rows
