"""Complete records: the logbook PDF holds every entry whole, and every printed date or
export is in the establishment's local time, French format (never a UTC ISO string)."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from django.utils import timezone, translation
from pypdf import PdfReader

from planblanc.core.localtime import establishment_time
from planblanc.crisis.exports import logbook_csv, logbook_pdf
from planblanc.crisis.models import EntryKind, LogbookEntry
from planblanc.crisis.notifications import notification_document, notification_pdf
from planblanc.crisis.services import MAX_TEXT, logbook_append

pytestmark = pytest.mark.django_db

ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _overflowing(content: bytes) -> list[str]:
    """Text fragments that run past the right edge of the page (a cut entry)."""
    found: list[str] = []
    for page in PdfReader(io.BytesIO(content)).pages:
        width = float(page.mediabox.width)

        def visit(text: str, cm: list[float], tm: list[float], font: object, size: float,
                  width: float = width) -> None:
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            scale = (tm[0] * cm[0]) or 1.0
            if text.strip() and x + 0.45 * size * scale * len(text.strip()) > width:
                found.append(text.strip()[:40])

        page.extract_text(visitor_text=visit)
    return found


def _squash(text: str) -> str:
    # Line breaks and hyphenation points differ between layout and extraction.
    return re.sub(r"\s+", "", text)


def _without_page_furniture(text: str, crisis) -> str:
    """A long entry flows over several pages: between its parts come the page's footer
    and header, the repeated table header and the row's hash. Take those out."""
    for entry in LogbookEntry.objects.filter(crisis=crisis):
        text = text.replace(entry.entry_hash, "")
    crisis.refresh_from_db()
    text = text.replace(crisis.head_hash, "")
    text = re.sub(r"Page\d+/\d+", "", text)
    for furniture in ("Empreintedetête:", "N°HeureAuteurNatureTexteEmpreinte",
                      _squash(f"Main courante — {crisis.establishment.name} — crise n° {crisis.pk}")):
        text = text.replace(furniture, "")
    return text


def test_the_logbook_pdf_holds_every_entry_whole_up_to_the_maximum_length(crisis, director):
    words = " ".join(f"mot{n:05d}" for n in range(MAX_TEXT // 9))[:MAX_TEXT - 40]
    unbroken = "X" * 300 + "-fin-sans-espace"
    long_entry = f"DEBUT {words} FIN"
    logbook_append(actor=director, crisis=crisis, kind="event", text=long_entry)
    logbook_append(actor=director, crisis=crisis, kind="information", text=unbroken)
    assert len(long_entry) <= MAX_TEXT
    pdf = logbook_pdf(crisis)
    assert not _overflowing(pdf), "text runs past the page's right edge"
    text = _without_page_furniture(_squash(_pdf_text(pdf)), crisis)
    for entry in LogbookEntry.objects.filter(crisis=crisis):
        assert _squash(entry.text) in text, f"entry {entry.seq} is cut in the PDF"


def test_printed_dates_are_local_and_french(crisis, director):
    crisis.establishment.postal_code = "97400"  # La Réunion: UTC+4, whatever the season
    crisis.establishment.save(update_fields=["postal_code"])
    entry = logbook_append(actor=director, crisis=crisis, kind="event", text="Heure locale")
    from zoneinfo import ZoneInfo

    local = entry.at.astimezone(ZoneInfo("Indian/Reunion"))
    # The date and the time may sit on two lines of the entry's narrow column.
    pdf = " ".join(_pdf_text(logbook_pdf(crisis)).split())
    assert local.strftime("%d/%m/%Y %H:%M:%S") in pdf and not ISO_UTC.search(pdf)
    rows = list(csv.reader(io.StringIO(logbook_csv(crisis).decode("utf-8-sig")), delimiter=";"))
    body = "\n".join(";".join(row) for row in rows)
    assert local.strftime("%d/%m/%Y %H:%M:%S") in body and not ISO_UTC.search(body)
    document = notification_document(crisis=crisis, kind="cnil")
    notice = " ".join(_pdf_text(notification_pdf(document, crisis)).split())
    due = (crisis.declared_at + datetime.timedelta(hours=72)).astimezone(ZoneInfo("Indian/Reunion"))
    assert f"Échéance : {due:%d/%m/%Y %H:%M}" in notice and not ISO_UTC.search(notice)


def test_the_logbook_pdf_never_cuts_a_date_a_time_or_a_kind_in_two(crisis, director):
    """The time column is narrow: a date printed "06/12/20" over "26" cannot be read back
    from paper. Each date and each time stays on one line, and a kind longer than its
    column is hyphenated, never cut at any letter."""
    for kind in EntryKind.values:
        logbook_append(actor=director, crisis=crisis, kind=kind, text=f"Entrée {kind}")
    text = " ".join(_pdf_text(logbook_pdf(crisis)).split())
    entries = LogbookEntry.objects.filter(crisis=crisis).select_related("crisis__establishment")
    with establishment_time(crisis.establishment):
        for entry in entries:
            local = timezone.localtime(entry.at)
            assert local.strftime("%d/%m/%Y %H:%M:%S") in text
    joined = re.sub(r"[-\u2010]\s+", "", text)  # a hyphenated word, put back together
    with translation.override("fr"):
        for label in EntryKind.labels:
            assert str(label) in joined, f"{label} is cut in the PDF"
