"""The one spreadsheet module: hostile files are refused fast, in small memory, with a
message that says why; exports neutralise formulas; what we write reads back."""

from __future__ import annotations

import csv
import datetime
import io
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import translation
from openpyxl import Workbook as OpenpyxlWorkbook
from openpyxl import load_workbook

from planblanc.core import tabular

SHEET_PATH = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def plain_xlsx(rows: list[list[Any]]) -> bytes:
    workbook = OpenpyxlWorkbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_sheet(sheet_chunks: Callable[[], Iterator[bytes]], *, extra: dict[str, bytes] | None = None) -> bytes:
    """A real workbook whose first sheet's XML is replaced by the given chunks (streamed,
    so that a 600 MB sheet is never held in memory by the test)."""
    base = zipfile.ZipFile(io.BytesIO(plain_xlsx([["Nom", "Prénom"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in base.infolist():
            if info.filename == SHEET_PATH:
                entry = zipfile.ZipInfo(SHEET_PATH)
                entry.compress_type = zipfile.ZIP_DEFLATED
                with target.open(entry, "w", force_zip64=True) as sheet:
                    for chunk in sheet_chunks():
                        sheet.write(chunk)
            else:
                target.writestr(info, base.read(info.filename))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def bounded(action: Callable[[], Any]) -> tuple[Any, float, int]:
    """(result or exception, CPU seconds, peak bytes allocated) of one call. CPU time, not
    wall time: the machine running the suite may be busy with other work."""
    tracemalloc.start()
    started = time.process_time()
    try:
        result: Any = action()
    except Exception as exc:  # noqa: BLE001 - the refusal is the result under test
        result = exc
    seconds = time.process_time() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak


@pytest.fixture(scope="module")
def far_row_bomb() -> bytes:
    """4 KB: one data row numbered 300,000,000 (openpyxl yields 300 million empty rows first)."""
    return with_sheet(lambda: iter([
        SHEET_HEAD, b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Nom</t></is></c></row>',
        b'<row r="300000000"><c r="A300000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>',
    ]))


@pytest.fixture(scope="module")
def empty_rows_bomb() -> bytes:
    """Under 1 MB: 100 million `<row/>` (600 MB once decompressed)."""
    def chunks() -> Iterator[bytes]:
        yield SHEET_HEAD + b"<sheetData>"
        block = b"<row/>" * 1_000_000
        for _ in range(100):
            yield block
        yield b"</sheetData></worksheet>"

    return with_sheet(chunks)


@pytest.fixture(scope="module")
def small_empty_rows_bomb() -> bytes:
    """Within the size limits, a million `<row/>`: stopped by row index, not by size."""
    return with_sheet(lambda: iter([SHEET_HEAD, b"<sheetData>", b"<row/>" * 1_000_000, b"</sheetData></worksheet>"]))


@pytest.fixture(scope="module")
def huge_cell_bomb() -> bytes:
    """One 200 MB cell."""
    def chunks() -> Iterator[bytes]:
        yield SHEET_HEAD + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        block = b"A" * 2**20
        for _ in range(200):
            yield block
        yield b"</t></is></c></row></sheetData></worksheet>"

    return with_sheet(chunks)


def refused(result: Any, words: str) -> None:
    assert isinstance(result, tabular.FileRefused), result
    assert words in " ".join(result.messages), result.messages


def test_the_bombs_are_small_files(far_row_bomb: bytes, empty_rows_bomb: bytes, huge_cell_bomb: bytes) -> None:
    assert len(far_row_bomb) < 10_000
    assert len(empty_rows_bomb) < 1_000_000
    assert len(huge_cell_bomb) < 1_000_000


@pytest.mark.parametrize(("bomb", "why"), [
    ("far_row_bomb", "more than 20,010 lines"),
    ("empty_rows_bomb", "Once decompressed"),
    ("small_empty_rows_bomb", "more than 20,010 lines"),
    ("huge_cell_bomb", "Once decompressed"),
])
def test_xlsx_bombs_are_refused_in_milliseconds_and_small_memory(bomb: str, why: str, request: Any) -> None:
    content = request.getfixturevalue(bomb)
    with translation.override("en"):
        result, seconds, peak = bounded(lambda: tabular.read_table(filename="bomb.xlsx", content=content))
    refused(result, why)
    assert seconds < 1.0, seconds
    assert peak < 50 * 2**20, peak


def test_a_cell_longer_than_the_cap_is_refused_with_its_position() -> None:
    content = plain_xlsx([["Nom", "Texte"], ["a", "b" * 25_000]])
    with translation.override("en"):
        result, seconds, peak = bounded(lambda: tabular.read_table(filename="long.xlsx", content=content))
    refused(result, "Line 2, column 2 holds more than 20,000 characters")
    assert peak < 50 * 2**20


def test_total_text_is_capped() -> None:
    limits = tabular.Limits(max_total_chars=1_000)
    content = plain_xlsx([["Nom"]] + [["x" * 100] for _ in range(20)])
    with translation.override("en"), pytest.raises(tabular.FileRefused, match="more than 1,000 characters"):
        tabular.read_table(filename="t.xlsx", content=content, limits=limits)


def test_the_declared_dimension_is_checked_before_the_rows() -> None:
    content = with_sheet(lambda: iter([
        SHEET_HEAD, b'<dimension ref="A1:C900000"/><sheetData><row r="1"><c t="inlineStr"><is><t>a</t></is></c>'
                    b"</row></sheetData></worksheet>",
    ]))
    with translation.override("en"), pytest.raises(tabular.FileRefused, match="declares 900,000 lines"):
        tabular.read_table(filename="d.xlsx", content=content)


def test_parts_beyond_the_part_count_or_with_entities_are_refused() -> None:
    many = with_sheet(lambda: iter([SHEET_HEAD, b"<sheetData/></worksheet>"]),
                      extra={f"xl/media/{n}.bin": b"" for n in range(600)})
    with translation.override("en"), pytest.raises(tabular.FileRefused, match="609 parts"):
        tabular.read_table(filename="m.xlsx", content=many)
    laughs = with_sheet(lambda: iter([
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c t="inlineStr"><is><t>&c;&c;&c;</t></is></c></row></sheetData></worksheet>',
    ]))
    sheet = tabular.read_table(filename="l.xlsx", content=laughs)  # entities are not expanded
    assert all(len(cell) < 100 for _line, cells in sheet.rows for cell in cells)


def test_garbage_and_old_formats_get_a_message_not_a_crash() -> None:
    with translation.override("en"):
        for content, words in [
            (b"PK\x03\x04" + b"\x00" * 100, "damaged"),
            (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old Excel file"),
            (b"", "empty"),
            (plain_xlsx([]).replace(b"worksheet", b"worksheex"), "damaged"),
        ]:
            with pytest.raises(tabular.FileRefused, match=words):
                tabular.read_table(filename="f.xlsx", content=content)


def test_csv_nul_bytes_and_size_are_refused_with_a_french_message() -> None:
    with translation.override("fr"):
        with pytest.raises(tabular.FileRefused, match="caractères NUL"):
            tabular.read_table(filename="a.csv", content=b"Nom;Pr\xc3\xa9nom\n" + b"A;B\n" * 30 + b"A\x00;B\n")
        with pytest.raises(tabular.FileRefused, match="dépasse 1 Mo"):
            tabular.read_table(filename="a.csv", content=b"a;b\n" * 2**19, limits=tabular.Limits(max_bytes=2**20))


def test_csv_rows_are_bounded_by_index_empty_lines_included() -> None:
    content = b"Nom;Prenom\n" + b"\n" * 30_000 + b"a;b\n"
    with translation.override("en"), pytest.raises(tabular.FileRefused, match="more than 20,010 lines"):
        tabular.read_table(filename="a.csv", content=content)


def test_xlsx_values_come_back_typed_and_numbered_as_a_spreadsheet_shows() -> None:
    when = datetime.datetime(2026, 3, 4, 9, 30)
    content = plain_xlsx([["Titre"], [], ["N°", "Heure", "Flag"], [1, when, True], ["'=1+1", 2.5, None]])
    workbook = tabular.read_workbook(content)
    sheet = workbook.sheet(workbook.sheetnames[0])
    assert sheet.rows == [(1, ["Titre"]), (3, ["N°", "Heure", "Flag"]), (4, [1, when, True]), (5, ["=1+1", 2.5])]
    assert sheet.values()[1] == (None, None, None)
    assert workbook.sheet(workbook.sheetnames[0], max_rows=1).rows == [(1, ["Titre"])]
    # Same values as openpyxl's own reader.
    reference = [tuple(row) for row in load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(
        values_only=True)]
    assert sheet.values()[:4] == reference[:4]


@pytest.mark.parametrize("value", ["=HYPERLINK(\"x\")", "+33", "-1+1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_formula_start_is_neutralised_in_csv_and_xlsx_and_reads_back(value: str) -> None:
    assert tabular.neutralise(value) == "'" + value
    text = tabular.csv_bytes([["a", value]]).decode("utf-8")
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";")) == [["a", "'" + value]]
    content = tabular.xlsx_bytes([("S", [["Nom", value]])])
    cells = [cell for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for cell in row]
    assert cells[1] == "'" + value
    assert tabular.read_table(filename="x.xlsx", content=content).rows[0][1][1] == value.strip()
    assert tabular.neutralise(-3) == -3 and tabular.neutralise(None) is None
