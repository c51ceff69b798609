"""Spreadsheet reading: our bounded XLSX reader (core/tabular.py) against openpyxl's own
read-only reader on a legitimate 20,000-line people file, and our reader on the hostile
files openpyxl cannot bound.

    python bench/tabular_read.py

Prints CPU seconds and peak traced memory for each, and the ratio to openpyxl."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

from common import bench_environment, django_setup, machine_load

bench_environment("tabular")
django_setup(migrate=False)

from openpyxl import Workbook, load_workbook  # noqa: E402

from planblanc.core import tabular  # noqa: E402

HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')


def people_file(lines: int) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Personnes")
    sheet.append(["Nom", "Prénom", "Email", "Mobile", "FINESS établissement", "Service", "Fonction"])
    for n in range(lines):
        sheet.append([f"Nom{n}", "Léa", f"p{n}@chu.example", "06 39 98 00 01", "750000010", "Urgences", "ciso"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def replace_sheet(base: bytes, chunks: list[bytes] | None = None, repeat: tuple[bytes, int] | None = None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename.startswith("xl/worksheets/sheet"):
                entry = zipfile.ZipInfo(info.filename)
                entry.compress_type = zipfile.ZIP_DEFLATED
                with target.open(entry, "w", force_zip64=True) as sheet:
                    for chunk in chunks or []:
                        sheet.write(chunk)
                    if repeat:
                        block, times = repeat
                        sheet.write(HEAD + b"<sheetData>")
                        for _ in range(times):
                            sheet.write(block)
                        sheet.write(b"</sheetData></worksheet>")
            else:
                target.writestr(info, source.read(info.filename))
    return out.getvalue()


def _run(action):  # type: ignore[no-untyped-def]
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - a refusal is an outcome here
        return f"refused: {exc.messages[0] if hasattr(exc, 'messages') else exc}"[:90]


def measure(action) -> tuple[float, float, str]:  # type: ignore[no-untyped-def]
    """CPU seconds of a plain run, then peak traced memory of a second run (tracing slows
    the code down several times, so time is not measured under it)."""
    started = time.process_time()
    outcome = _run(action)
    seconds = time.process_time() - started
    tracemalloc.start()
    _run(action)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, str(outcome)[:90]


def main() -> None:
    legit = people_file(20_000)
    ours = measure(lambda: f"{len(tabular.read_table(filename='p.xlsx', content=legit).rows)} rows")
    theirs = measure(lambda: f"{sum(1 for _ in load_workbook(io.BytesIO(legit), read_only=True).active.iter_rows(values_only=True))} rows")
    print(machine_load())
    print(f"{'case':48} {'CPU s':>7} {'peak MB':>8}  outcome")
    print(f"{'20,000-line people file, core.tabular':48} {ours[0]:7.2f} {ours[1]:8.1f}  {ours[2]}")
    print(f"{'20,000-line people file, openpyxl read-only':48} {theirs[0]:7.2f} {theirs[1]:8.1f}  {theirs[2]}")
    print(f"ratio tabular/openpyxl: time {ours[0] / theirs[0]:.2f}, memory {ours[1] / theirs[1]:.2f}")
    small = people_file(1)
    far = replace_sheet(small, [HEAD, b'<sheetData><row r="300000000"><c t="inlineStr"><is><t>x</t></is></c></row>'
                                      b"</sheetData></worksheet>"])
    empty = replace_sheet(small, repeat=(b"<row/>" * 1_000_000, 100))
    for label, content in ((f"row r=300,000,000 ({len(far)} bytes)", far),
                           (f"100 million <row/> ({len(empty)} bytes)", empty)):
        seconds, peak, outcome = measure(lambda c=content: tabular.read_table(filename="b.xlsx", content=c))
        print(f"{label:48} {seconds:7.3f} {peak:8.1f}  {outcome}")


if __name__ == "__main__":
    main()
