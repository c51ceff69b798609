"""Export of establishments and people to CSV and XLSX, in exactly the import's columns, so
that an exported file imports back without a change (directory.importing).

Values are written as the import reads them best: codes for categories, regions, groups,
functions and languages (they do not change with the interface language), "oui"/"non"
for flags, phone numbers as a French person dials them (06 12 34 56 78, 00 44 …: no
leading "+" that a spreadsheet would take for a formula).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import phonenumbers

from planblanc.core import tabular
from planblanc.directory import selectors
from planblanc.directory.importing import COLUMNS, ESTABLISHMENT_COLUMNS, PERSON_COLUMNS
from planblanc.directory.models import ImportKind

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _phone(e164: str) -> str:
    if not e164:
        return ""
    parsed = phonenumbers.parse(e164)
    if parsed.country_code == 33:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_out_of_country_calling_number(parsed, "FR")


def _yes_no(flag: bool) -> str:
    return "oui" if flag else "non"


def _safe(value: str) -> str:
    return str(tabular.neutralise(value))


def establishment_export_rows(*, user: Any, search: str = "", region_id: int | None = None,
                              category: str = "") -> Iterator[list[str]]:
    establishments = selectors.establishment_list(
        user=user, search=search, region_id=region_id, category=category
    ).order_by("finess")
    for e in establishments.iterator(chunk_size=2000):
        row = {
            "finess": e.finess, "name": e.name, "category": e.category, "region": e.region.code,
            "group": e.group.code if e.group_id else "", "is_priority": _yes_no(e.is_priority),
            "is_essential_operator": _yes_no(e.is_essential_operator), "address": e.address,
            "postal_code": e.postal_code, "city": e.city, "switchboard_phone": _phone(e.switchboard_phone),
        }
        yield [_safe(row[column.key]) for column in ESTABLISHMENT_COLUMNS]


def person_export_rows(*, user: Any, search: str = "", establishment_id: int | None = None,
                       function: str = "") -> Iterator[list[str]]:
    """One line per function the user may see, as the import expects."""
    people = selectors.person_list(
        user=user, search=search, establishment_id=establishment_id, function=function
    ).order_by("last_name", "first_name", "pk")
    for person in people.iterator(chunk_size=2000):
        base = {
            "last_name": person.last_name, "first_name": person.first_name, "job_title": person.job_title,
            "email": person.email, "mobile_phone": _phone(person.mobile_phone),
            "landline_phone": _phone(person.landline_phone), "preferred_language": person.preferred_language,
        }
        for membership in person.visible_memberships:
            row = {
                **base, "finess": membership.establishment.finess,
                "department": membership.department.name if membership.department_id else "",
                "function": membership.function,
            }
            yield [_safe(row[column.key]) for column in PERSON_COLUMNS]


def export_headers(kind: str) -> list[str]:
    return [column.header for column in COLUMNS[kind]]


def export_csv(*, kind: str, rows: Iterable[list[str]]) -> Iterator[str]:
    """CSV as French Excel opens it with a double click: UTF-8 with BOM, `;` between cells."""
    return tabular.csv_stream(itertools.chain([export_headers(kind)], rows))


def export_xlsx(*, kind: str, rows: Iterable[list[str]]) -> bytes:
    return tabular.xlsx_bytes([(str(ImportKind(kind).label), itertools.chain([export_headers(kind)], rows))])


def export_filename(*, kind: str, fmt: str, today: Any) -> str:
    name = "etablissements" if kind == ImportKind.ESTABLISHMENTS else "personnes"
    return f"planblanc-{name}-{today:%Y-%m-%d}.{fmt}"
