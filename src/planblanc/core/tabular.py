"""Reading and writing spreadsheets (CSV and XLSX), bounded and safe.

Every import (directory, chronogrammes) reads through `read_table` / `read_workbook`, and
every export writes through `csv_stream` / `csv_bytes` / `xlsx_bytes`.

Reading is bounded in size, time and memory whatever the file claims:
- the upload itself is refused above `MAX_UPLOAD_BYTES` (the same cap as request bodies);
- CSV: NUL bytes and UTF-16 are refused (they are not text a spreadsheet saved as CSV);
- XLSX, before anything is parsed: the zip's parts are counted and their *declared*
  uncompressed sizes checked (Python's zipfile never inflates a part beyond its declared
  size, so a lying header only makes the read fail), and each sheet's declared dimension
  is checked against the row and column limits;
- XLSX sheets are streamed by our own reader (lxml's iterparse, entities off, each element
  freed once read), which stops at the row limit by row INDEX: a `<row r="300000000">` or
  the millionth `<row/>` is refused at once, empty rows count as rows;
- each cell is capped in length, the total text kept is capped, and the read has a
  deadline.
A refused file raises `FileRefused` (a ValidationError with code "bad_file") whose message,
translated, says why; callers store nothing.

Writing: CSV in UTF-8 with a BOM and `;` (what French Excel opens with a double click), and
every text cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return) is prefixed with an apostrophe. `unquote` undoes it on import.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import formats
from django.utils.translation import gettext as _

# Limits ---------------------------------------------------------------------------------


def max_upload_bytes() -> int:
    return int(getattr(settings, "PLANBLANC_MAX_UPLOAD_BYTES", 10 * 1024 * 1024))


@dataclass(frozen=True)
class Limits:
    """What one read may cost. `max_rows` is a row INDEX (as a spreadsheet numbers rows)."""

    max_bytes: int = 0  # 0: the upload cap (settings.PLANBLANC_MAX_UPLOAD_BYTES)
    max_rows: int = 20_010
    max_columns: int = 60
    max_cell_chars: int = 20_000
    max_total_chars: int = 10_000_000
    max_sheets: int = 50
    max_parts: int = 500
    max_part_bytes: int = 40 * 1024 * 1024
    max_unzipped_bytes: int = 80 * 1024 * 1024
    max_seconds: float = 20.0

    @property
    def bytes_cap(self) -> int:
        return self.max_bytes or max_upload_bytes()


DEFAULT_LIMITS = Limits()


class FileRefused(ValidationError):
    """A file that cannot or may not be read; the message says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="bad_file")


def _mb(size: int) -> str:
    return formats.number_format(round(size / 2**20, 1), decimal_pos=0 if size % 2**20 == 0 else 1)


def _count(number: int) -> str:
    return formats.number_format(number, force_grouping=True)


def _too_large(limits: Limits) -> FileRefused:
    return FileRefused(
        _("The file is larger than %(size)s MB: split it into several files.") % {"size": _mb(limits.bytes_cap)}
    )


def _too_many_rows(limits: Limits) -> FileRefused:
    return FileRefused(
        _("The file has more than %(max)s lines: split it into several files.") % {"max": _count(limits.max_rows)}
    )


def _cell_too_long(line: int, column: int, limits: Limits) -> FileRefused:
    return FileRefused(
        _("Line %(line)s, column %(column)s holds more than %(max)s characters: shorten it.")
        % {"line": _count(line), "column": column, "max": _count(limits.max_cell_chars)}
    )


def _too_much_text(limits: Limits) -> FileRefused:
    return FileRefused(
        _("The file holds more than %(max)s characters of text: split it into several files.")
        % {"max": _count(limits.max_total_chars)}
    )


def _too_slow() -> FileRefused:
    return FileRefused(_("Reading the file took too long: split it into several files."))


NOT_A_SPREADSHEET = "This file is neither CSV nor XLSX. Save it from your spreadsheet as “CSV UTF-8” or as “.xlsx”."


# Cells ----------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as text: None → "", 12.0 → "12", True → "oui", dates in ISO, stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def norm(text: Any) -> str:
    """Lower case, no accents, punctuation as single spaces: 'N° FINESS' → 'n finess'."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def find_header(rows: Sequence[Sequence[Any]], score: Callable[[Sequence[Any]], int], *,
                search: int = 40, minimum: int = 1) -> int | None:
    """The index of the row among the first `search` that scores best (the first of equals),
    or None when none reaches `minimum`. Files often carry a title line or two above it."""
    best_index, best_score = None, minimum - 1
    for index, row in enumerate(rows[:search]):
        value = score(row)
        if value > best_score:
            best_index, best_score = index, value
    return best_index


# Reading --------------------------------------------------------------------------------


Row = tuple[int, list[Any]]  # (line number as a spreadsheet shows it, cells)


@dataclass
class Sheet:
    name: str
    rows: list[Row] = field(default_factory=list)

    def values(self) -> list[tuple[Any, ...]]:
        """The rows as tuples, empty rows included, from line 1 (what openpyxl's
        `iter_rows(values_only=True)` gives), for readers that count rows themselves."""
        out: list[tuple[Any, ...]] = []
        width = max((len(cells) for _line, cells in self.rows), default=0)
        for line, cells in self.rows:
            while len(out) < line - 1:
                out.append((None,) * width)
            out.append(tuple(cells) + (None,) * (width - len(cells)))
        return out


class _Budget:
    """Counts the text kept and the time spent by one read."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.chars = 0
        # CPU time of this thread, not wall time: a busy server must not refuse a good file.
        self.deadline = time.thread_time() + limits.max_seconds
        self.ticks = 0

    def keep(self, text: str, line: int, column: int) -> str:
        if len(text) > self.limits.max_cell_chars:
            raise _cell_too_long(line, column, self.limits)
        self.chars += len(text)
        if self.chars > self.limits.max_total_chars:
            raise _too_much_text(self.limits)
        return text

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % 4096 == 0 and time.thread_time() > self.deadline:
            raise _too_slow()


def _check_size(content: bytes, limits: Limits) -> None:
    if len(content) > limits.bytes_cap:
        raise _too_large(limits)
    if not content.strip():
        raise FileRefused(_("The file is empty."))


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1252 text; NUL bytes and UTF-16 refused."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in content[:64]:
        # UTF-16, or binary (an image, a PDF…) under a .csv name.
        raise FileRefused(_(NOT_A_SPREADSHEET))
    if b"\x00" in content:
        raise FileRefused(
            _("The file contains NUL characters (byte zero), which no text file holds: it is not a CSV file. "
              "Save it from your spreadsheet as “CSV UTF-8” or as “.xlsx”.")
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # French Excel's plain "CSV (séparateur : point-virgule)" is written in Windows-1252.
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            _("The file's characters cannot be read. Save it from your spreadsheet as “CSV UTF-8”.")
        ) from exc


def _delimiter(text: str) -> str:
    first_line = next((line for line in text[:65536].splitlines() if line.strip()), "")
    counts = {delimiter: first_line.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(content: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Sheet:
    """Every record of a CSV file (empty ones included), numbered from 1."""
    _check_size(content, limits)
    text = decode_text(content)
    budget = _Budget(limits)
    sheet = Sheet(name="")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        # Line numbers count records, as a spreadsheet opening the file numbers its rows.
        for line, cells in enumerate(reader, start=1):
            if line > limits.max_rows:
                raise _too_many_rows(limits)
            budget.tick()
            kept = [unquote(budget.keep(cell, line, column))
                    for column, cell in enumerate(cells[: limits.max_columns], 1)]
            sheet.rows.append((line, kept))
    except csv.Error as exc:
        raise FileRefused(
            _("The CSV file cannot be read near line %(line)d: %(reason)s") % {"line": reader.line_num, "reason": exc}
        ) from exc
    return sheet


# XLSX -------------------------------------------------------------------------------------

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE, _INLINE, _TEXT = f"{_MAIN}row", f"{_MAIN}c", f"{_MAIN}v", f"{_MAIN}is", f"{_MAIN}t"
_DIMENSION, _SHEET_DATA, _SHARED_ITEM = f"{_MAIN}dimension", f"{_MAIN}sheetData", f"{_MAIN}si"
_RPH = f"{_MAIN}rPh"  # phonetic runs: not part of the text
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})?\$?(\d{1,9})?$")


def _damaged() -> FileRefused:
    return FileRefused(_("This XLSX file is damaged or is not a spreadsheet."))


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def _ref(text: str) -> tuple[int, int]:
    """(column, row) of "AB12" (0 for a missing part)."""
    match = _CELL_REF.match(text.strip())
    if not match:
        raise _damaged()
    return (_column_number(match.group(1)) if match.group(1) else 0, int(match.group(2) or 0))


def _iterparse(source: Any, events: tuple[str, ...]) -> Any:
    # Spreadsheet libraries are loaded only when a file is read or written.
    from lxml import etree

    return etree.iterparse(
        source, events=events, resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
        remove_comments=True, remove_pis=True,
    )


def _free(element: Any) -> None:
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _check_archive(archive: zipfile.ZipFile, limits: Limits) -> None:
    """Before parsing: how many parts, and how big each says it is once inflated."""
    parts = archive.infolist()
    if len(parts) > limits.max_parts:
        raise FileRefused(
            _("This XLSX file holds %(count)s parts, more than a spreadsheet of this size would: it is refused.")
            % {"count": _count(len(parts))}
        )
    total = 0
    for part in parts:
        total += part.file_size
        if part.file_size > limits.max_part_bytes or total > limits.max_unzipped_bytes:
            raise FileRefused(
                _("Once decompressed, this XLSX file would take more than %(size)s MB: it is refused. "
                  "Split it into several files.") % {"size": _mb(min(limits.max_part_bytes, limits.max_unzipped_bytes))}
            )


def _check_dimension(archive: zipfile.ZipFile, path: str, limits: Limits) -> None:
    """The sheet's declared used range, read from its first elements, before its rows."""
    with archive.open(path) as source:
        for _event, element in _iterparse(source, ("start",)):
            if element.tag == _SHEET_DATA:
                return
            if element.tag == _DIMENSION:
                last = (element.get("ref") or "").split(":")[-1]
                try:
                    column, row = _ref(last)
                except FileRefused:
                    return  # an unreadable dimension is ignored: the rows are bounded anyway
                if row > limits.max_rows:
                    raise FileRefused(
                        _("The sheet declares %(rows)s lines, more than the %(max)s accepted: split it into "
                          "several files.") % {"rows": _count(row), "max": _count(limits.max_rows)}
                    )
                return


class _SharedStrings:
    """The shared-string table, each string capped (a longer one is kept one character too
    long, so that the cell using it is refused with its position)."""

    def __init__(self, archive: zipfile.ZipFile, path: str | None, limits: Limits, budget: _Budget) -> None:
        self.strings: list[str] = []
        if not path:
            return
        cap = limits.max_cell_chars + 1
        max_count = limits.max_rows * limits.max_columns
        total = 0
        with archive.open(path) as source:
            for _event, element in _iterparse(source, ("end",)):
                if element.tag != _SHARED_ITEM:
                    continue
                budget.tick()
                pieces: list[str] = []
                size = 0
                for node in element.iter(_TEXT):
                    if any(ancestor.tag == _RPH for ancestor in node.iterancestors()):
                        continue
                    if node.text and size < cap:
                        pieces.append(node.text[: cap - size])
                        size += len(pieces[-1])
                text = "".join(pieces).replace("_x005F_", "_")
                total += len(text)
                if total > limits.max_total_chars:
                    raise _too_much_text(limits)
                self.strings.append(text)
                if len(self.strings) > max_count:
                    raise _too_much_text(limits)
                _free(element)

    def get(self, index: str | None) -> str:
        try:
            return self.strings[int(index or "")]
        except (ValueError, IndexError) as exc:
            raise _damaged() from exc


class Workbook:
    """An XLSX file's sheets, read lazily and bounded. `sheet(name)` reads one sheet."""

    def __init__(self, content: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
        # Spreadsheet libraries are loaded only when a file is read or written.
        from openpyxl.reader.excel import ExcelReader
        from openpyxl.styles.stylesheet import apply_stylesheet
        from openpyxl.utils.exceptions import InvalidFileException

        _check_size(content, limits)
        self.limits = limits
        self._budget = _Budget(limits)
        try:
            self._archive = zipfile.ZipFile(io.BytesIO(content))
            _check_archive(self._archive, limits)
            # openpyxl reads the workbook part, its relationships and the styles (small parts,
            # sizes checked above); we read the shared strings and the sheets ourselves.
            reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=True)
            reader.read_manifest()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            self._epoch = reader.wb.epoch
            self._date_styles: set[int] = set(reader.wb._date_formats)
            self._timedelta_styles: set[int] = set(reader.wb._timedelta_formats)
            self._paths: dict[str, str] = {}
            for sheet, rel in reader.parser.find_sheets():
                if len(self._paths) >= limits.max_sheets:
                    break
                if rel.target in self._archive.namelist():
                    self._paths[sheet.name] = rel.target
            for path in self._paths.values():
                _check_dimension(self._archive, path, limits)
            ct = reader.package.find("application/vnd.openxmlformats-officedocument.spreadsheetml."
                                      "sharedStrings+xml")
            self._strings = _SharedStrings(
                self._archive, ct.PartName[1:] if ct is not None else None, limits, self._budget)
            reader.archive.close()
        except FileRefused:
            raise
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError,
                AttributeError, IndexError, SyntaxError) as exc:
            raise _damaged() from exc
        if not self._paths:
            raise _damaged()

    @property
    def sheetnames(self) -> list[str]:
        return list(self._paths)

    def close(self) -> None:
        self._archive.close()

    def sheet(self, name: str, *, max_rows: int | None = None) -> Sheet:
        """Rows of one sheet up to the row limit (or up to `max_rows`, silently: for a
        quick look at the first lines). Beyond the limit, FileRefused."""
        try:
            return self._read_sheet(name, max_rows)
        except FileRefused:
            raise
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, OverflowError, SyntaxError) as exc:
            raise _damaged() from exc

    def _value(self, element: Any, line: int, column: int) -> Any:
        value = self._raw_value(element, line, column)
        return unquote(value) if isinstance(value, str) else value

    def _raw_value(self, element: Any, line: int, column: int) -> Any:
        kind = element.get("t", "n")
        if kind == "inlineStr":
            inline = element.find(_INLINE)
            text = "" if inline is None else "".join(
                node.text or "" for node in inline.iter(_TEXT)
                if not any(a.tag == _RPH for a in node.iterancestors()))
            return self._budget.keep(text, line, column)
        raw = element.findtext(_VALUE)
        if raw is None or raw == "":
            return None
        if kind == "s":
            return self._budget.keep(self._strings.get(raw), line, column)
        if kind in ("str", "e"):
            return self._budget.keep(raw, line, column)
        if kind == "b":
            return raw.strip() not in ("0", "")
        if kind == "d":
            # Spreadsheet libraries are loaded only when a file is read.
            from openpyxl.utils.datetime import from_ISO8601

            return from_ISO8601(raw[:64])
        if len(raw) > 64:
            raise _damaged()
        parsed = float(raw)
        number: int | float = parsed
        if parsed.is_integer() and "." not in raw and "E" not in raw.upper():
            number = int(raw)
        style = int(element.get("s", "0") or 0)
        if style in self._date_styles:
            # Spreadsheet libraries are loaded only when a file is read.
            from openpyxl.utils.datetime import from_excel

            try:
                return from_excel(number, self._epoch, timedelta=style in self._timedelta_styles)
            except (OverflowError, ValueError):
                return "#VALUE!"
        return number

    def _read_sheet(self, name: str, max_rows: int | None) -> Sheet:
        limits = self.limits
        path = self._paths[name]
        sheet = Sheet(name=name)
        line = 0
        cells: list[Any] = []
        column = 0
        with self._archive.open(path) as source:
            for event, element in _iterparse(source, ("start", "end")):
                tag = element.tag
                if event == "start":
                    if tag == _ROW:
                        attribute = element.get("r")
                        if attribute is not None:
                            try:
                                number = int(attribute)
                            except ValueError as exc:
                                raise _damaged() from exc
                            if number <= line:
                                raise _damaged()  # rows go down the sheet
                            line = number
                        else:
                            line += 1
                        if max_rows is not None and line > max_rows:
                            return sheet
                        if line > limits.max_rows:
                            raise _too_many_rows(limits)
                        cells, column = [], 0
                    continue
                if tag == _CELL:
                    self._budget.tick()
                    reference = element.get("r")
                    column = _ref(reference)[0] if reference else column + 1
                    if 0 < column <= limits.max_columns:
                        value = self._value(element, line, column)
                        if value is not None:
                            while len(cells) < column - 1:
                                cells.append(None)
                            if len(cells) == column - 1:
                                cells.append(value)
                    _free(element)
                elif tag == _ROW:
                    self._budget.tick()
                    if cells:
                        sheet.rows.append((line, cells))
                    cells = []
                    _free(element)
                elif tag in (_VALUE, _TEXT, _INLINE):
                    continue  # freed with their cell
                else:
                    parent = element.getparent()
                    if parent is not None and parent.tag != _CELL and parent.tag != _INLINE:
                        _free(element)
        return sheet


def read_workbook(content: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Workbook:
    if not content.startswith(b"PK\x03\x04"):
        raise FileRefused(_("This file is not an Excel workbook (.xlsx)."))
    return Workbook(content, limits)


def read_table(*, filename: str, content: bytes, limits: Limits = DEFAULT_LIMITS) -> Sheet:
    """The first sheet of an XLSX file, or a CSV file, as numbered rows of text cells
    (empty rows left out). FileRefused says what is wrong with the file."""
    _check_size(content, limits)
    if content.startswith(b"PK\x03\x04"):
        workbook = Workbook(content, limits)
        try:
            raw = workbook.sheet(workbook.sheetnames[0])
        finally:
            workbook.close()
    elif content.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(_("This is an old Excel file (.xls). Save it as “.xlsx” or as “CSV UTF-8” first."))
    elif filename.lower().endswith((".xlsx", ".xlsm", ".ods", ".pdf", ".docx")):
        raise FileRefused(_(NOT_A_SPREADSHEET))
    else:
        raw = read_csv(content, limits=limits)
    rows: list[Row] = []
    for line, cells in raw.rows:
        text = [cell_text(cell) for cell in cells]
        if any(text):
            rows.append((line, text))
    return replace(raw, rows=rows)


# Writing ----------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with an apostrophe.
    Numbers, dates and None are left alone (a negative number is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unquote(text: str) -> str:
    """Undo `neutralise` on a cell read back from one of our exports."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return neutralise(value if isinstance(value, str | int | float) else str(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV as French Excel opens it with a double click: UTF-8 with BOM, `;` between cells,
    formulas neutralised."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    return "".join(csv_stream(rows)).encode("utf-8")


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        # Control characters other than tab and newline are not allowed in XLSX text.
        value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value)
    return neutralise(value)


def xlsx_bytes(sheets: Iterable[tuple[str, Iterable[Sequence[Any]]]]) -> bytes:
    """An XLSX file with one sheet per (title, rows); text formulas neutralised."""
    # Spreadsheet libraries are loaded only when a file is written.
    from openpyxl import Workbook as OpenpyxlWorkbook

    workbook = OpenpyxlWorkbook(write_only=True)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", str(title))[:31] or "Feuille")
        for row in rows:
            sheet.append([_xlsx_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _attachment(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    safe = "".join(c for c in filename if c.isalnum() or c in "-_.") or "export"
    response["Content-Disposition"] = f'attachment; filename="{safe}"'


def csv_response(rows: Iterable[Sequence[Any]], *, filename: str,
                 streaming: bool = False) -> HttpResponse | StreamingHttpResponse:
    response: HttpResponse | StreamingHttpResponse
    if streaming:
        response = StreamingHttpResponse(csv_stream(rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(csv_bytes(rows), content_type="text/csv; charset=utf-8")
    _attachment(response, filename)
    return response


def xlsx_response(sheets: Iterable[tuple[str, Iterable[Sequence[Any]]]], *, filename: str) -> HttpResponse:
    response = HttpResponse(xlsx_bytes(sheets), content_type=XLSX_TYPE)
    _attachment(response, filename)
    return response
