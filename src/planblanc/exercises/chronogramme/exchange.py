"""Export in the usual kit layout (XLSX) and the JSON format (data/chronogramme-format.md),
and reading that JSON back."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import io
from typing import Any

import openpyxl
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.core import tabular
from planblanc.exercises.chronogramme.building import (
    check_dependencies,
    number_injects,
    reaction_to_text,
)
from planblanc.exercises.chronogramme.headers import EXPORT_HEADERS
from planblanc.exercises.chronogramme.parsed import (
    Chronogramme,
    ChronogrammeFileError,
    ParsedInject,
    ParsedMarker,
    ParsedReaction,
    RowProblem,
)
from planblanc.exercises.models import Channel, Exercise, InjectKind, MarkerKind

FORMAT_VERSION = 1


def _format_offset(offset: datetime.timedelta) -> str:
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"T{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _time_cell(exercise: Exercise, inject: Any) -> Any:
    if getattr(inject, "story_time", ""):
        return inject.story_time
    return _real_time_cell(exercise, inject)


def _real_time_cell(exercise: Exercise, inject: Any) -> Any:
    if inject.offset is not None:
        if exercise.planned_start is not None:
            return (timezone.localtime(exercise.planned_start) + inject.offset).strftime("%Hh%M")
        return _format_offset(inject.offset)
    if inject.scheduled_at is not None:
        return timezone.localtime(inject.scheduled_at).strftime("%Hh%M (%d/%m/%Y)")
    return "-"


def export_xlsx(exercise: Exercise) -> bytes:
    """The chronogramme in the usual kit layout: a title row, the header, phase rows
    before the injects of each phase."""
    from openpyxl.styles import Alignment, Font, PatternFill

    injects = _ordered_injects(exercise)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Chronogramme"
    sheet.append([tabular.neutralise(f"Chronogramme — {exercise.title}")])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(EXPORT_HEADERS.values()))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE4EE")
    current_phase = None
    markers = list(exercise.markers.all())
    far = datetime.timedelta(days=3650)
    for inject in injects:
        due = inject.due_offset(exercise.planned_start)
        while markers and (markers[0].offset if markers[0].offset is not None else far) <= (
                due if due is not None else far) and markers[0].kind != "end":
            _append_marker(sheet, exercise, markers.pop(0))
        if inject.phase != current_phase:
            current_phase = inject.phase
            if inject.phase:
                sheet.append([tabular.neutralise(inject.phase)])
                sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        reactions = list(inject.expected_reactions.all())
        values = {
            "number": inject.number,
            "time": _time_cell(exercise, inject),
            "phase": inject.phase,
            "channel": Channel(inject.channel).label,
            "sender": inject.sender,
            "target_cell": inject.target_cell,
            "target_role": inject.target_role,
            "subject": inject.subject,
            "content": inject.content,
            "attachments": "\n".join(inject.attachments or []),
            "expected_reactions": "\n".join(reaction_to_text(r) for r in reactions),
            "deadline": "",
            "kind": InjectKind(inject.kind).label,
            "dependencies": ", ".join(str(d.number) for d in inject.dependencies.all()),
            "comment": inject.comment,
            "deliverable": inject.deliverable,
            "state": "❌" if inject.excluded else "✅",
            "real_time": _real_time_cell(exercise, inject) if inject.story_time else "",
        }
        sheet.append([tabular.neutralise(str(values[name])) if name != "number" else values[name]
                      for name in EXPORT_HEADERS])
    for marker in markers:
        _append_marker(sheet, exercise, marker)
    widths = {"A": 6, "B": 12, "C": 22, "I": 60, "K": 50}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _append_marker(sheet: Any, exercise: Exercise, marker: Any) -> None:
    """A marker row: its time and its label, nothing else (read back as a marker)."""
    from openpyxl.styles import Font

    columns = list(EXPORT_HEADERS)
    row: list[Any] = [None] * len(columns)
    if marker.offset is not None:
        row[columns.index("time")] = _real_time_cell(exercise, marker)
    row[columns.index("phase")] = tabular.neutralise(marker.label)
    sheet.append(row)
    sheet.cell(sheet.max_row, columns.index("phase") + 1).font = Font(italic=True)


def _file_entry(attachment: Any) -> dict[str, str]:
    from planblanc.exercises.attachments import attachment_content

    return {"name": attachment.name, "content_type": attachment.content_type, "sha256": attachment.sha256,
            "content_base64": base64.b64encode(attachment_content(attachment)).decode("ascii")}


def _read_files(value: Any, problems: list[str]) -> list[tuple[str, bytes]]:
    """The files of a JSON inject; each must decode and match its SHA-256 when given."""
    if not isinstance(value, list):
        problems.append(_("“files” must be a list of files."))
        return []
    files = []
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else None
        encoded = entry.get("content_base64") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip() or not isinstance(encoded, str):
            problems.append(_("Each file needs a name and its content in base64."))
            continue
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            problems.append(_("File “%(name)s” is not valid base64.") % {"name": name[:80]})
            continue
        digest = entry.get("sha256")
        if digest and hashlib.sha256(content).hexdigest() != str(digest).lower():
            problems.append(_("File “%(name)s” does not match its SHA-256.") % {"name": name[:80]})
            continue
        files.append((name.strip()[:255], content))
    return files


def _ordered_injects(exercise: Exercise) -> list[Any]:
    injects = list(
        exercise.injects.prefetch_related("expected_reactions__criterion", "dependencies", "files").order_by("number")
    )
    far = datetime.timedelta(days=3650)

    def key(inject: Any) -> tuple[datetime.timedelta, int]:
        due = inject.due_offset(exercise.planned_start)
        return (due if due is not None else far, inject.number)

    return sorted(injects, key=key)


def export_json(exercise: Exercise) -> dict[str, Any]:
    """See data/chronogramme-format.md."""
    return {
        "format": "planblanc-chronogramme",
        "format_version": FORMAT_VERSION,
        "title": exercise.title,
        "kit": exercise.kit_slug,
        "maturity_level": exercise.maturity_level,
        "start": exercise.planned_start.isoformat() if exercise.planned_start else None,
        "injects": [
            {
                "number": inject.number,
                "phase": inject.phase,
                "offset_minutes": (int(inject.offset.total_seconds()) // 60) if inject.offset is not None else None,
                "at": inject.scheduled_at.isoformat() if inject.scheduled_at else None,
                **({"story_time": inject.story_time} if inject.story_time else {}),
                **({"files": [_file_entry(f) for f in inject.files.all()]} if inject.files.all() else {}),
                "channel": inject.channel,
                "sender": inject.sender,
                "target_cell": inject.target_cell,
                "target_role": inject.target_role,
                "subject": inject.subject,
                "content": inject.content,
                "attachments": list(inject.attachments or []),
                "kind": inject.kind,
                "after": sorted(d.number for d in inject.dependencies.all()),
                "comment": inject.comment,
                "deliverable": inject.deliverable,
                **({"excluded": True} if inject.excluded else {}),
                "expected_reactions": [
                    {
                        "description": reaction.description,
                        "deadline_minutes": (int(reaction.deadline.total_seconds()) // 60)
                        if reaction.deadline is not None
                        else None,
                        "cell": reaction.cell,
                        "criterion": reaction.criterion.area if reaction.criterion else None,
                    }
                    for reaction in inject.expected_reactions.all()
                ],
            }
            for inject in _ordered_injects(exercise)
        ],
        "markers": [
            {"label": marker.label, "kind": marker.kind,
             "offset_minutes": (int(marker.offset.total_seconds()) // 60) if marker.offset is not None else None}
            for marker in exercise.markers.all()
        ],
    }


def read_json(document: Any, *, used_numbers: set[int] | None = None) -> Chronogramme:
    """Read the JSON format (any format_version up to ours)."""
    result = Chronogramme(sheet="json")
    if not isinstance(document, dict) or document.get("format") != "planblanc-chronogramme":
        raise ChronogrammeFileError(_("This is not a Plan Blanc chronogramme (\"format\": \"planblanc-chronogramme\")."))
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1 or version > FORMAT_VERSION:
        raise ChronogrammeFileError(
            _("Chronogramme format version %(version)s is not supported (this platform reads up to %(ours)d).")
            % {"version": version, "ours": FORMAT_VERSION}
        )
    items = document.get("injects")
    if not isinstance(items, list):
        raise ChronogrammeFileError(_("\"injects\" must be a list."))
    for position, item in enumerate(items, start=1):
        where = _("inject %(position)d") % {"position": position}
        if not isinstance(item, dict):
            result.errors.append(RowProblem(where, _("Each inject must be an object.")))
            continue
        problems: list[str] = []
        inject = ParsedInject(where=where)
        number = item.get("number")
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            inject.source_number = number
        elif number is not None:
            problems.append(_("“%(value)s” is not an inject number.") % {"value": number})
        channel = item.get("channel") or "email"
        if channel not in Channel.values:
            problems.append(_("Unknown channel “%(value)s”.") % {"value": channel})
        else:
            inject.channel = channel
        kind = item.get("kind") or "structuring"
        if kind not in InjectKind.values:
            problems.append(_("Unknown inject kind “%(value)s”.") % {"value": kind})
        else:
            inject.kind = kind
        offset = item.get("offset_minutes")
        at = item.get("at")
        if offset is not None:
            if isinstance(offset, int | float) and not isinstance(offset, bool):
                inject.offset = datetime.timedelta(minutes=offset)
            else:
                problems.append(_("“offset_minutes” must be a number of minutes."))
        elif at:
            try:
                moment = datetime.datetime.fromisoformat(str(at))
            except ValueError:
                problems.append(_("Time “%(value)s” cannot be read (ISO 8601 expected).") % {"value": at})
            else:
                inject.scheduled_at = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        for name, limit in (("phase", 200), ("story_time", 60), ("sender", 200), ("target_cell", 200), ("target_role", 200),
                            ("subject", 300), ("content", None), ("comment", None), ("deliverable", 300)):
            value = item.get(name) or ""
            if not isinstance(value, str):
                problems.append(_("“%(name)s” must be text.") % {"name": name})
                continue
            if limit is not None and len(value) > limit:
                problems.append(_("“%(name)s” is longer than %(limit)d characters.") % {"name": name, "limit": limit})
            setattr(inject, name, value)
        excluded = item.get("excluded", False)
        if not isinstance(excluded, bool):
            problems.append(_("“excluded” must be true or false."))
        else:
            inject.excluded = excluded
        attachments = item.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
            problems.append(_("“attachments” must be a list of texts."))
        else:
            inject.attachments = attachments
        if item.get("files"):
            inject.files = _read_files(item["files"], problems)
        after = item.get("after") or []
        if not isinstance(after, list) or not all(isinstance(n, int) for n in after):
            problems.append(_("“after” must be a list of inject numbers."))
        else:
            inject.dependencies = after
        for reaction in item.get("expected_reactions") or []:
            if not isinstance(reaction, dict) or not reaction.get("description"):
                problems.append(_("Each expected reaction needs a description."))
                continue
            deadline = reaction.get("deadline_minutes")
            inject.expected_reactions.append(
                ParsedReaction(
                    description=str(reaction["description"]),
                    deadline=datetime.timedelta(minutes=deadline) if isinstance(deadline, int | float) else None,
                    cell=str(reaction.get("cell") or "")[:200],
                    criterion_area=str(reaction.get("criterion") or ""),
                )
            )
        if not (inject.content or inject.subject):
            problems.append(_("An inject needs a subject or a content."))
        if problems:
            result.errors.extend(RowProblem(where, message) for message in problems)
            result.bad_rows.add(where)
        result.injects.append(inject)
    markers = document.get("markers") or []
    if not isinstance(markers, list):
        raise ChronogrammeFileError(_("\"markers\" must be a list."))
    for position, item in enumerate(markers, start=1):
        label = item.get("label") if isinstance(item, dict) else None
        offset = item.get("offset_minutes") if isinstance(item, dict) else None
        kind = item.get("kind") if isinstance(item, dict) else None
        if not isinstance(label, str) or not label.strip() or kind not in MarkerKind.values or not (
                offset is None or (isinstance(offset, int | float) and not isinstance(offset, bool))):
            result.errors.append(RowProblem(_("marker %(position)d") % {"position": position}, _(
                "A marker needs a label, a kind (start, end, pause, resume, other) and a time in minutes.")))
            continue
        result.markers.append(ParsedMarker(
            where=_("marker %(position)d") % {"position": position}, label=label.strip()[:200], kind=str(kind),
            offset=datetime.timedelta(minutes=offset) if offset is not None else None, position=position))
    number_injects(result, used_numbers or set())
    check_dependencies(result)
    return result
