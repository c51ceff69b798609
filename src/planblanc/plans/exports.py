"""The plan on paper and on a USB key: the paper kit (PDF) and the offline bundle (ZIP).

Both read the canonical document of a plan (`plan_snapshot`, or an approved version's
stored snapshot), never the live rows, so a version prints exactly as it was approved.
The network, the hospital's file shares and its printers' servers may all be down when
these are needed: nothing here fetches anything, and the bundle opens from a USB key in
any browser, without a server and without JavaScript.

Contract of an export (copy the nearest one to add another):
- takes `document` (the snapshot dict) and `meta` (KitMeta: establishment, version or
  None for an unapproved draft, approval, who prints and when) and returns bytes;
- renders in French (the kit is a French document) and says on every page which version
  it is, when it was printed, and "BROUILLON — non approuvé" for a draft;
- never touches the database, so a bench can render without writing; recording who
  exported which version is `plan_kit_export`'s job (through `plan_export_record`),
  which is what the web views and the `plan_kit` command call.

The kit's wording is French and lives in the templates (plans/kit/): the kit is a French
document whatever the reader's interface language. Labels of codes (cells, phases,
functions…) come from the models' choices, rendered with French active.
"""

from __future__ import annotations

import datetime
import functools
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from planblanc.actors import Actor
from planblanc.core.pdf import render_pdf
from planblanc.directory.models import DepartmentKind, EstablishmentCategory, Function
from planblanc.directory.validators import phone_display
from planblanc.plans.durations import duration_display
from planblanc.plans.models import (
    AlertMeans,
    CellKind,
    ContactKind,
    Criticality,
    Phase,
    Plan,
    PlanExport,
    PlanVersion,
    ResourceKind,
)
from planblanc.plans.services import plan_export_record
from planblanc.plans.snapshot import plan_snapshot

KIT_LANGUAGE = "fr"
# Blank ruled pages of the logbook (main courante) at the end of the kit; more can be
# photocopied, the page says so.
LOGBOOK_PAGES = 6
LOGBOOK_ROWS_PER_PAGE = 22
STATIC_DIR = Path(__file__).resolve().parent / "static" / "plans"
PHASE_ORDER: list[str] = list(Phase.values)
CELL_ORDER: list[str] = list(CellKind.values)
# Export kinds as plain strings (what PlanExport.kind stores).
PAPER_KIT = str(PlanExport.Kind.PAPER_KIT)
OFFLINE_BUNDLE = str(PlanExport.Kind.OFFLINE_BUNDLE)
DRAFT_LABEL = "BROUILLON — non approuvé"


@dataclass(frozen=True)
class KitMeta:
    """What the paper says about itself: whose plan, which version, who printed it when.
    `version_number` is None for the working draft (then every page says BROUILLON)."""

    establishment_name: str
    version_number: int | None
    approved_at: datetime.datetime | None
    approved_by: str
    printed_at: datetime.datetime
    printed_by: str

    @property
    def is_draft(self) -> bool:
        return self.version_number is None


def kit_meta(*, plan: Plan, version: PlanVersion | None, printed_by: str,
             printed_at: datetime.datetime | None = None) -> KitMeta:
    return KitMeta(
        establishment_name=plan.establishment.name,
        version_number=version.number if version else None,
        approved_at=version.approved_at if version else None,
        approved_by=version.approved_by_label if version else "",
        printed_at=printed_at or timezone.now(),
        printed_by=printed_by,
    )


def plan_exports(plan: Plan) -> QuerySet[PlanExport]:
    """Every print of the paper kit and every offline bundle of a plan, newest first,
    with the version they were made from (None: the draft)."""
    return PlanExport.objects.filter(plan=plan).select_related("version", "by").defer("version__snapshot")


# What the templates read --------------------------------------------------------------


@dataclass(frozen=True)
class Phone:
    """A number as printed (national format) and as dialled (tel: link)."""

    e164: str

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        try:
            return phone_display(self.e164)
        except Exception:  # a snapshot stores E.164; an odd value still prints as written
            return self.e164


def _phone(value: str | None) -> Phone | None:
    return Phone(value) if value else None


def _label(choices: Any, code: Any) -> str:
    """The French label of a code; a code the current models no longer know (an old
    version's snapshot) prints as itself rather than breaking the kit."""
    if code in (None, ""):
        return ""
    try:
        return str(choices(code).label)
    except ValueError:
        return str(code)


def _date(value: str | datetime.date | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value)
    return formats.date_format(value, "d/m/Y")


def _datetime(value: datetime.datetime | None) -> tuple[str, str]:
    if value is None:
        return "", ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return formats.date_format(local, "d/m/Y"), formats.time_format(local, "H:i")


def _seconds(value: int | None) -> str:
    return duration_display(datetime.timedelta(seconds=value)) if value is not None else ""


def _minutes(value: int | None) -> str:
    return duration_display(datetime.timedelta(minutes=value)) if value is not None else ""


def _person(person: dict[str, Any] | None) -> dict[str, Any] | None:
    if not person:
        return None
    return {
        "name": person.get("name", ""),
        "job_title": person.get("job_title", ""),
        "mobile": _phone(person.get("mobile_phone")),
        "landline": _phone(person.get("landline_phone")),
        "email": person.get("email", ""),
    }


def _kit_context(document: dict[str, Any], meta: KitMeta) -> dict[str, Any]:
    """Turn the snapshot (codes, E.164 numbers, seconds) into what paper shows (French
    labels, national numbers, "4 h"). Called with the kit's language active."""
    establishment = document.get("establishment", {})
    cell = document.get("cell", {})
    seats_by_key: dict[str, dict[str, Any]] = {}
    cells: dict[str, list[dict[str, Any]]] = {code: [] for code in CELL_ORDER}
    for seat in document.get("seats", []):
        item = {
            "key": seat["key"],
            "title": seat["title"],
            "function": _label(Function, seat.get("function")),
            "mission": seat.get("mission", ""),
            "holder": _person(seat.get("holder")),
            "deputies": [_person(deputy) for deputy in seat.get("deputies", []) if deputy],
        }
        item["rows"] = 1 + len(item["deputies"])
        seats_by_key[seat["key"]] = item
        cells.setdefault(seat["cell"], []).append(item)

    alert_tree = []
    for step in document.get("alert_tree", []):
        alert_tree.append({
            "order": step["order"],
            "from_seat": seats_by_key.get(step.get("from_seat") or ""),
            "to_seat": seats_by_key.get(step.get("to_seat") or ""),
            "means": _label(AlertMeans, step.get("means")),
            "fallback_means": _label(AlertMeans, step.get("fallback_means")),
            "delay": _minutes(step.get("delay_minutes")),
            "note": step.get("note", ""),
        })

    sheets = []
    for number, sheet in enumerate(document.get("reflex_sheets", []), start=1):
        phases: dict[str, list[dict[str, Any]]] = {}
        for item in sheet.get("items", []):
            phases.setdefault(item["phase"], []).append({
                "text": item["text"],
                "due": _minutes(item.get("due_minutes")),
            })
        ordered = sorted(phases, key=lambda code: PHASE_ORDER.index(code) if code in PHASE_ORDER else len(PHASE_ORDER))
        sheets.append({
            "anchor": f"fiche-{number}",
            "number": number,
            "title": sheet["title"],
            "owner_function": _label(Function, sheet.get("owner_function")),
            "owner_seat": seats_by_key.get(sheet.get("owner_seat") or ""),
            "purpose": sheet.get("purpose", ""),
            "phases": [{"label": _label(Phase, code), "items": phases[code]} for code in ordered],
        })

    departments: dict[str, dict[str, Any]] = {}
    for procedure in document.get("degraded_procedures", []):
        kind = procedure.get("department_kind", "")
        group = departments.setdefault(kind, {
            "anchor": f"service-{len(departments) + 1}", "label": _label(DepartmentKind, kind), "procedures": [],
        })
        group["procedures"].append(procedure)

    processes = [
        {
            **process,
            "mtd": _seconds(process.get("max_tolerable_downtime_seconds")),
            "rto": _seconds(process.get("rto_seconds")),
            "rpo": _seconds(process.get("rpo_seconds")),
            "impacts": process.get("impacts", {}),
            "has_impacts": any((process.get("impacts") or {}).values()),
        }
        for process in document.get("critical_processes", [])
    ]
    systems = [
        {
            **system,
            "owner": _person(system.get("owner")),
            "criticality_code": system.get("criticality"),
            "criticality": _label(Criticality, system.get("criticality")),
            "vendor_phone": _phone(system.get("vendor_contact_24_7")),
            "last_restore_test": _date(system.get("last_restore_test")),
        }
        for system in document.get("it_systems", [])
    ]
    contacts = [
        {
            **contact,
            "kind_label": _label(ContactKind, contact.get("kind")),
            "phone": _phone(contact.get("phone")),
            "phone_24_7": _phone(contact.get("phone_24_7")),
        }
        for contact in document.get("contacts", [])
    ]
    resources = [
        {
            **resource,
            "kind_label": _label(ResourceKind, resource.get("kind")),
            "checked_on": _date(resource.get("checked_on")),
        }
        for resource in document.get("resources", [])
    ]
    approved_date, approved_time = _datetime(meta.approved_at)
    printed_date, printed_time = _datetime(meta.printed_at)
    return {
        "meta": meta,
        "draft_label": DRAFT_LABEL,
        "approved_date": approved_date,
        "printed_date": printed_date,
        "printed_time": printed_time,
        "establishment": {
            **establishment,
            "name": meta.establishment_name or establishment.get("name", ""),
            "category_label": _label(EstablishmentCategory, establishment.get("category")),
            "switchboard": _phone(establishment.get("switchboard_phone")),
        },
        "cell": {**cell, "bridge_phone": _phone(cell.get("bridge_phone"))},
        "cells": [
            {"code": code, "label": _label(CellKind, code), "seats": seats}
            for code, seats in cells.items() if seats
        ],
        "seat_count": len(seats_by_key),
        "alert_tree": alert_tree,
        "sheets": sheets,
        "departments": list(departments.values()),
        "processes": processes,
        "processes_with_impacts": [process for process in processes if process["has_impacts"]],
        "systems": systems,
        "contacts": contacts,
        "resources": resources,
        "logbook_pages": range(1, LOGBOOK_PAGES + 1),
        "logbook_rows": range(LOGBOOK_ROWS_PER_PAGE),
    }


def kit_context(document: dict[str, Any], meta: KitMeta) -> dict[str, Any]:
    """What the kit's templates (plans/kit/*.html) show, for pages that reuse them."""
    return _kit_context(document, meta)


# Paper kit ----------------------------------------------------------------------------


@functools.cache
def _stylesheet(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def paper_kit_html(*, document: dict[str, Any], meta: KitMeta) -> str:
    """The kit as one HTML document for WeasyPrint (handy to debug the layout in a browser)."""
    with translation.override(KIT_LANGUAGE):
        return render_to_string("plans/paper_kit.html", _kit_context(document, meta))


def paper_kit_pdf(*, document: dict[str, Any], meta: KitMeta) -> bytes:
    """The paper kit: A4, French, cover, table of contents, crisis cell roster, alert
    tree, one reflex sheet per page with tick boxes, degraded procedures, continuity
    tables, contacts, resources and blank logbook pages; the version, its approval and
    the print date on every page, with page numbers."""
    return render_pdf(html=paper_kit_html(document=document, meta=meta), css=_stylesheet("paper_kit.css"))


# Offline bundle -----------------------------------------------------------------------

BUNDLE_INDEX = "index.html"
BUNDLE_STYLESHEET = "style.css"
BUNDLE_README = "LISEZMOI.txt"


def bundle_pdf_name(meta: KitMeta) -> str:
    if meta.is_draft:
        return "kit-papier-brouillon.pdf"
    return f"kit-papier-v{meta.version_number}.pdf"


def _zip_entry(name: str, stamp: tuple[int, int, int, int, int, int], compress_type: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=stamp)
    entry.compress_type = compress_type
    # Without Unix permission bits, unzip on Linux or macOS creates unreadable files.
    entry.external_attr = 0o644 << 16
    entry.create_system = 3  # the same bytes whichever system builds the zip
    return entry


def offline_bundle_zip(*, document: dict[str, Any], meta: KitMeta, pdf: bytes | None = None) -> bytes:
    """A zip that opens from a USB key in any browser, without a server or JavaScript:
    index.html (the whole plan, one section per part, readable on a phone and
    printable), its stylesheet, the paper kit PDF and a LISEZMOI.txt. Links are relative.
    Deterministic: the same document and meta give the same bytes (every entry is dated
    with the print time). Pass `pdf` when the kit was already rendered."""
    if pdf is None:
        pdf = paper_kit_pdf(document=document, meta=meta)
    pdf_name = bundle_pdf_name(meta)
    with translation.override(KIT_LANGUAGE):
        context = _kit_context(document, meta)
        context.update(pdf_name=pdf_name, pdf_size_kb=max(1, len(pdf) // 1024), stylesheet=BUNDLE_STYLESHEET)
        index = render_to_string("plans/kit/bundle_index.html", context)
        readme = render_to_string("plans/kit/bundle_readme.txt", context)
    # Windows' Notepad reads UTF-8 text reliably with CRLF line ends and a byte-order mark.
    readme_bytes = "\ufeff".encode() + readme.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    files: list[tuple[str, bytes, int]] = [
        (BUNDLE_INDEX, index.encode(), zipfile.ZIP_DEFLATED),
        (BUNDLE_STYLESHEET, _stylesheet("offline_bundle.css").encode(), zipfile.ZIP_DEFLATED),
        (BUNDLE_README, readme_bytes, zipfile.ZIP_DEFLATED),
        # A PDF is compressed already.
        (pdf_name, pdf, zipfile.ZIP_STORED),
    ]
    local = timezone.localtime(meta.printed_at) if timezone.is_aware(meta.printed_at) else meta.printed_at
    stamp = (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, compress_type in files:
            archive.writestr(_zip_entry(name, stamp, compress_type), content)
    return buffer.getvalue()


# Export: render and record -------------------------------------------------------------


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes
    export: PlanExport


def kit_version(*, plan: Plan, number: Any) -> PlanVersion | None:
    """The approved version asked for by its number; None or "" means the working draft.
    An unknown or malformed number is a ValidationError that says so."""
    if number is None or str(number).strip() == "":
        return None
    try:
        wanted = int(str(number).strip())
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a version number.") % {"value": str(number)[:20]}, code="version_invalid"
        ) from None
    version = plan.versions.filter(number=wanted).first() if wanted > 0 else None
    if version is None:
        raise ValidationError(
            _("This plan has no approved version %(number)d.") % {"number": wanted}, code="version_unknown"
        )
    return version


def kit_document(*, plan: Plan, version: PlanVersion | None) -> dict[str, Any]:
    """An approved version prints from its stored snapshot; the draft from the live rows."""
    return version.snapshot if version is not None else plan_snapshot(plan)


def export_filename(*, plan: Plan, version: PlanVersion | None, kind: str) -> str:
    stem = f"plan-blanc-{plan.establishment.finess or plan.establishment_id}"
    suffix = f"v{version.number}" if version is not None else "brouillon"
    extension = "pdf" if kind == PAPER_KIT else "zip"
    return f"{stem}-{suffix}.{extension}"


def plan_kit_export(*, actor: Actor, plan: Plan, version: PlanVersion | None, kind: str, printed_by: str,
                    printed_at: datetime.datetime | None = None) -> ExportFile:
    """Render the paper kit (kind "pdf") or the offline bundle (kind "bundle") of the draft
    or of an approved version, and record who exported which version when (audited).
    Nothing is recorded if rendering fails."""
    if kind not in PlanExport.Kind.values:
        raise ValidationError(_("Unknown kind of export."), code="export_kind")
    meta = kit_meta(plan=plan, version=version, printed_by=printed_by, printed_at=printed_at)
    document = kit_document(plan=plan, version=version)
    pdf = paper_kit_pdf(document=document, meta=meta)
    if kind == PAPER_KIT:
        content, content_type = pdf, "application/pdf"
    else:
        content, content_type = offline_bundle_zip(document=document, meta=meta, pdf=pdf), "application/zip"
    export = plan_export_record(actor=actor, plan=plan, version=version, kind=kind, content=content)
    return ExportFile(
        filename=export_filename(plan=plan, version=version, kind=kind), content_type=content_type,
        content=content, export=export,
    )
