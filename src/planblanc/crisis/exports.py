"""The logbook (main courante) as PDF, CSV and JSON, for an insurer, a court or ANSSI.

Every export carries the head hash (to write on paper and compare later), the number of
entries, and for each entry its number, time (UTC and local), author, kind, text,
corrected entry, attachments' SHA-256 and its own and previous hash: anyone can
recompute the chain from the JSON (see chain.py for the canonical encoding). Exports
read the database only; `logbook_export` records who exported what."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from planblanc.actors import Actor
from planblanc.core import tabular
from planblanc.core.localtime import establishment_time, establishment_zone, fr_datetime
from planblanc.core.pdf import render_pdf
from planblanc.crisis.chain import ENCODING_VERSION, logbook_verify, utc_iso
from planblanc.crisis.models import Crisis, LogbookEntry
from planblanc.crisis.services import logbook_export_record
from planblanc.tenancy import user_label

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

FORMATS = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "json": "application/json"}
STATIC_DIR = Path(__file__).resolve().parent / "static" / "crisis"


@dataclass(frozen=True)
class Exported:
    content: bytes
    content_type: str
    filename: str


def _entries(crisis: Crisis) -> list[LogbookEntry]:
    return list(
        LogbookEntry.objects.filter(crisis=crisis).select_related("corrects").prefetch_related("attachments")
        .order_by("seq")
    )


def _header(crisis: Crisis) -> dict[str, Any]:
    result = logbook_verify(crisis)
    return {
        "crisis": crisis.pk,
        "establishment": crisis.establishment.name,
        "finess": crisis.establishment.finess,
        "kind": crisis.kind,
        "severity": crisis.severity,
        "is_exercise": crisis.is_exercise,
        "declared_at": utc_iso(crisis.declared_at),
        "closed_at": utc_iso(crisis.closed_at) if crisis.closed_at else None,
        "entries": crisis.head_seq,
        "head_hash": crisis.head_hash,
        "chain_verified": result.ok,
        "chain_problem": "" if result.ok else result.describe(),
        "encoding_version": ENCODING_VERSION,
        "exported_at": utc_iso(timezone.now()),
    }


def _entry_dict(entry: LogbookEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": utc_iso(entry.at),
        "author": entry.author_label,
        "kind": entry.kind,
        "text": entry.text,
        "corrects": entry.corrects.seq if entry.corrects_id else None,  # type: ignore[union-attr]
        "attachments": [
            {"name": a.name, "size": a.size_bytes, "sha256": a.sha256} for a in entry.attachments.all()
        ],
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def logbook_json(crisis: Crisis) -> bytes:
    document = {"logbook": _header(crisis), "entries": [_entry_dict(e) for e in _entries(crisis)]}
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def logbook_csv(crisis: Crisis) -> bytes:
    header = _header(crisis)
    zone = establishment_zone(crisis.establishment)
    rows: list[list[Any]] = [
        ["# head_hash", header["head_hash"], "entries", header["entries"], "chain_verified", header["chain_verified"]],
        ["# heure locale", str(zone)],
        ["seq", "date_heure", "author", "kind", "text", "corrects", "attachments_sha256", "prev_hash",
         "entry_hash"],
    ]
    for entry in _entries(crisis):
        data = _entry_dict(entry)
        rows.append([
            data["seq"], fr_datetime(entry.at, zone, seconds=True), data["author"], data["kind"],
            data["text"], data["corrects"] or "",
            " ".join(f"{a['sha256']}:{a['name']}" for a in data["attachments"]), data["prev_hash"],
            data["entry_hash"],
        ])
    rows.append(["# head_hash", header["head_hash"]])
    return tabular.csv_bytes(rows)


@functools.cache
def pdf_stylesheet() -> str:
    """The stylesheet of the crisis PDFs (logbook, notifications, report)."""
    return (STATIC_DIR / "logbook_pdf.css").read_text(encoding="utf-8")


def logbook_pdf(crisis: Crisis, *, printed_by: str = "") -> bytes:
    """A4, French, the head hash on every page (to be written down) and at the end."""
    with translation.override("fr"), establishment_time(crisis.establishment) as zone:
        html = render_to_string("crisis/logbook_pdf.html", {
            "crisis": crisis, "header": _header(crisis), "entries": _entries(crisis),
            "printed_by": printed_by, "printed_at": timezone.localtime(), "zone": str(zone),
        })
    return render_pdf(html=html, css=pdf_stylesheet())


def logbook_export(*, actor: Actor, crisis: Crisis, fmt: str) -> Exported:
    if fmt not in FORMATS:
        raise Http404
    if fmt == "pdf":
        content = logbook_pdf(crisis, printed_by=user_label(actor))
    elif fmt == "csv":
        content = logbook_csv(crisis)
    elif fmt == "json":
        content = logbook_json(crisis)
    else:  # pragma: no cover
        raise ValidationError(_("Unknown export format."))
    logbook_export_record(actor=actor, crisis=crisis, fmt=fmt, content=content)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return Exported(content=content, content_type=FORMATS[fmt],
                    filename=f"main-courante-crise-{crisis.pk}-{stamp}.{fmt}")
