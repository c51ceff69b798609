"""The French template a new plan starts from (modèle de plan blanc numérique).

The template is data, not code: YAML files under plans/data/template/, written in French
from public guidance (crisis-cell seats, alert tree, reflex sheets, degraded-mode
procedures, external contacts with blanks to fill, emergency resources, critical processes
and IT systems). `template_load` reads and validates them — every problem is reported with
the file and the entry — and `template_apply` turns them into the rows of an empty plan in
one transaction.

Departments: a degraded-mode procedure is linked to the establishment's department of the
same kind when there is exactly one; otherwise it is left unlinked and stands for every
department of that kind. Missing departments are not created: the directory is kept by the
establishment's administrators, and a template must not invent a maternity ward in a
nursing home. The procedure is still copied, so that a department added later, or an
activity run by a partner (an outsourced laboratory), already has its procedure."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.directory.models import Department
from planblanc.plans.durations import duration_parse
from planblanc.plans.models import (
    PHASE_DEFAULT_DUE_MINUTES,
    AlertStep,
    CellKind,
    Criticality,
    CriticalProcess,
    DegradedProcedure,
    ExternalContact,
    ITSystem,
    Phase,
    Plan,
    ReflexItem,
    ReflexSheet,
    Resource,
    Seat,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "data" / "template"
TEMPLATE_FILES = (
    "cell.yaml", "alert_tree.yaml", "reflex_sheets.yaml", "degraded_procedures.yaml",
    "contacts.yaml", "resources.yaml", "processes.yaml",
)
CRITICALITY_NAMES = {"vital": Criticality.VITAL, "high": Criticality.HIGH, "medium": Criticality.MEDIUM,
                     "low": Criticality.LOW}
PLAN_FIELDS = ("briefing_rhythm", "bridge_notes")


class TemplateError(ValidationError):
    """A template file is missing or malformed; the message names the file and the entry."""


@dataclass
class SheetSpec:
    sheet: ReflexSheet
    seat_key: str | None
    items: list[ReflexItem]


@dataclass
class TemplateContent:
    """The template, validated, as unsaved rows (fresh ones at each load)."""

    plan_fields: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    seats: dict[str, Seat] = field(default_factory=dict)
    alert_steps: list[tuple[str | None, str, AlertStep]] = field(default_factory=list)
    sheets: list[SheetSpec] = field(default_factory=list)
    procedures: list[DegradedProcedure] = field(default_factory=list)
    contacts: list[ExternalContact] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    systems: dict[str, ITSystem] = field(default_factory=dict)
    processes: list[tuple[CriticalProcess, list[str]]] = field(default_factory=list)


def _fail(where: str, problem: Any) -> TemplateError:
    return TemplateError(
        _("Plan template, %(where)s: %(problem)s") % {"where": where, "problem": problem}, code="template_invalid"
    )


@functools.lru_cache(maxsize=32)
def _parse(path: str, mtime_ns: int) -> Any:
    """Parsed YAML, cached while the file is unchanged (the template is read at every new plan)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506  (a safe loader)


def _read(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    try:
        document = _parse(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError as exc:
        raise _fail(name, _("the file is missing.")) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = _(" (line %(line)d)") % {"line": mark.line + 1} if mark is not None else ""
        raise _fail(name + line, _("not valid YAML: %(error)s") % {"error": getattr(exc, "problem", None) or exc}) from exc
    except UnicodeDecodeError as exc:
        raise _fail(name, _("the file is not UTF-8 text.")) from exc
    if not isinstance(document, dict):
        raise _fail(name, _("the file must contain named sections (a YAML mapping)."))
    return document


def _entries(document: dict[str, Any], name: str, section: str) -> Iterator[tuple[int, dict[str, Any]]]:
    entries = document.get(section)
    if not isinstance(entries, list) or not entries:
        raise _fail(name, _("the section “%(section)s” must be a non-empty list.") % {"section": section})
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise _fail(f"{name}, {section} #{number}", _("each entry must be a mapping of fields."))
        yield number, entry


def _where(name: str, section: str, number: int, entry: dict[str, Any], label_key: str) -> str:
    label = entry.get(label_key)
    return f"{name}, {section} #{number}" + (f" (“{label}”)" if label else "")


def _take(entry: dict[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(entry) - set(required) - set(optional))
    if unknown:
        raise _fail(where, _("unknown field “%(field)s” (expected: %(expected)s).")
                    % {"field": unknown[0], "expected": ", ".join(required + optional)})
    for name in required:
        if entry.get(name) in (None, ""):
            raise _fail(where, _("the field “%(field)s” is required.") % {"field": name})
    return {key: value for key, value in entry.items() if value is not None}


def _clean(instance: models.Model, where: str) -> None:
    """The model's own validation (choices, lengths, phone numbers), relations excluded."""
    relations = [f.name for f in instance._meta.get_fields() if f.is_relation]
    try:
        instance.full_clean(exclude=relations, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            problems = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in exc.message_dict.items())
        else:
            problems = " ".join(exc.messages)
        raise _fail(where, problems) from exc


def _duration(value: Any, where: str, name: str) -> datetime.timedelta:
    try:
        duration = duration_parse(value)
    except ValidationError as exc:
        raise _fail(where, f"{name}: {' '.join(exc.messages)}") from exc
    if duration <= datetime.timedelta(0):
        raise _fail(where, _("%(field)s must be longer than zero.") % {"field": name})
    return duration


def _text(value: Any) -> str:
    return str(value).strip()


def _load_cell(directory: Path, content: TemplateContent) -> None:
    name = "cell.yaml"
    document = _read(directory, name)
    plan_fields = document.get("plan") or {}
    hints = document.get("hints") or {}
    if not isinstance(plan_fields, dict) or not isinstance(hints, dict):
        raise _fail(name, _("“plan” and “hints” must be mappings."))
    _take(plan_fields, f"{name}, plan", (), PLAN_FIELDS)
    content.plan_fields = {key: _text(value) for key, value in plan_fields.items() if value}
    _clean(Plan(**content.plan_fields), f"{name}, plan")
    content.hints = {str(key): _text(value) for key, value in hints.items() if value}
    for number, entry in _entries(document, name, "seats"):
        where = _where(name, "seats", number, entry, "title")
        data = _take(entry, where, ("key", "cell", "title"), ("function", "mission"))
        key = str(data.pop("key"))
        if key in content.seats:
            raise _fail(where, _("the key “%(key)s” is used twice.") % {"key": key})
        seat = Seat(**{k: _text(v) for k, v in data.items()}, order=number)
        _clean(seat, where)
        content.seats[key] = seat
    if not any(seat.cell == CellKind.STRATEGIC for seat in content.seats.values()):
        raise _fail(name, _("the strategic cell has no seat."))


def _seat_key(content: TemplateContent, key: Any, where: str, *, allow_empty: bool = False) -> str | None:
    if key in (None, "") and allow_empty:
        return None
    if str(key) not in content.seats:
        raise _fail(where, _("“%(key)s” is not a seat of cell.yaml.") % {"key": key})
    return str(key)


def _load_alert_tree(directory: Path, content: TemplateContent) -> None:
    name = "alert_tree.yaml"
    document = _read(directory, name)
    for number, entry in _entries(document, name, "steps"):
        where = f"{name}, steps #{number}"
        data = _take(entry, where, ("to", "means"), ("from", "fallback", "within", "note"))
        from_key = _seat_key(content, data.get("from"), where, allow_empty=True)
        to_key = _seat_key(content, data["to"], where)
        assert to_key is not None
        delay = _duration(data["within"], where, "within") if "within" in data else None
        step = AlertStep(
            order=number, means=_text(data["means"]), fallback_means=_text(data.get("fallback", "")),
            delay_minutes=int(delay.total_seconds() // 60) if delay else None, note=_text(data.get("note", "")),
        )
        _clean(step, where)
        content.alert_steps.append((from_key, to_key, step))


def _load_reflex_sheets(directory: Path, content: TemplateContent) -> None:
    name = "reflex_sheets.yaml"
    document = _read(directory, name)
    for number, entry in _entries(document, name, "sheets"):
        where = _where(name, "sheets", number, entry, "title")
        data = _take(entry, where, ("title", "phases"), ("owner_function", "owner_seat", "purpose"))
        seat_key = _seat_key(content, data.get("owner_seat"), where, allow_empty=True)
        if not data.get("owner_function") and seat_key is None:
            raise _fail(where, _("a reflex sheet needs an owner_function or an owner_seat."))
        sheet = ReflexSheet(title=_text(data["title"]), owner_function=_text(data.get("owner_function", "")),
                            purpose=_text(data.get("purpose", "")), order=number)
        _clean(sheet, where)
        phases = data["phases"]
        if not isinstance(phases, dict):
            raise _fail(where, _("“phases” must map each phase to its list of actions."))
        unknown = sorted(set(map(str, phases)) - set(Phase.values))
        if unknown:
            raise _fail(where, _("unknown phase “%(phase)s” (expected: %(expected)s).")
                        % {"phase": unknown[0], "expected": ", ".join(Phase.values)})
        items: list[ReflexItem] = []
        for phase in Phase.values:
            actions = phases.get(phase)
            if not isinstance(actions, list) or not actions:
                raise _fail(where, _("the phase “%(phase)s” has no action.") % {"phase": phase})
            for position, action in enumerate(actions, start=1):
                item_where = f"{where}, {phase} #{position}"
                if isinstance(action, str):
                    action = {"text": action}
                if not isinstance(action, dict):
                    raise _fail(item_where, _("an action is a text or a mapping with “text”."))
                fields = _take(action, item_where, ("text",), ("due", "task"))
                due = _duration(fields["due"], item_where, "due") if "due" in fields else None
                phase_end = datetime.timedelta(minutes=PHASE_DEFAULT_DUE_MINUTES[phase])
                if due is not None and phase != Phase.RECOVERY and due > phase_end:
                    raise _fail(item_where, _("the action is due after the end of its phase."))
                item = ReflexItem(
                    phase=phase, order=len(items) + 1, text=_text(fields["text"]),
                    becomes_task=bool(fields.get("task", True)),
                    due_minutes=int(due.total_seconds() // 60) if due else None,
                )
                _clean(item, item_where)
                items.append(item)
        content.sheets.append(SheetSpec(sheet=sheet, seat_key=seat_key, items=items))


def _load_simple(directory: Path, name: str, section: str, model: type[models.Model], label_key: str,
                 required: tuple[str, ...], optional: tuple[str, ...]) -> list[Any]:
    document = _read(directory, name)
    rows = []
    for number, entry in _entries(document, name, section):
        where = _where(name, section, number, entry, label_key)
        data = _take(entry, where, required, optional)
        values = {key: value if isinstance(value, int) and not isinstance(value, bool) else _text(value)
                  for key, value in data.items()}
        if "order" in {f.name for f in model._meta.fields}:
            values["order"] = number
        row = model(**values)
        _clean(row, where)
        rows.append(row)
    return rows


def _load_processes(directory: Path, content: TemplateContent) -> None:
    name = "processes.yaml"
    document = _read(directory, name)
    for number, entry in _entries(document, name, "systems"):
        where = _where(name, "systems", number, entry, "name")
        data = _take(entry, where, ("key", "name", "criticality"), ("description", "recovery_order"))
        key = str(data.pop("key"))
        if key in content.systems:
            raise _fail(where, _("the key “%(key)s” is used twice.") % {"key": key})
        criticality = CRITICALITY_NAMES.get(str(data.pop("criticality")))
        if criticality is None:
            raise _fail(where, _("criticality must be one of: %(expected)s.") % {"expected": ", ".join(CRITICALITY_NAMES)})
        system = ITSystem(name=_text(data["name"]), description=_text(data.get("description", "")),
                          criticality=criticality, recovery_order=data.get("recovery_order"))
        _clean(system, where)
        content.systems[key] = system
    for number, entry in _entries(document, name, "processes"):
        where = _where(name, "processes", number, entry, "name")
        data = _take(entry, where, ("name", "mtd", "rto"),
                     ("description", "impact_4h", "impact_24h", "impact_72h", "impact_1w", "rpo",
                      "recovery_order", "systems"))
        mtd = _duration(data.pop("mtd"), where, "mtd")
        rto = _duration(data.pop("rto"), where, "rto")
        rpo = _duration(data.pop("rpo"), where, "rpo") if "rpo" in data else None
        if rto > mtd:
            raise _fail(where, _("the RTO is longer than the maximum tolerable downtime."))
        system_keys = data.pop("systems", [])
        if not isinstance(system_keys, list):
            raise _fail(where, _("“systems” must be a list of system keys."))
        for key in system_keys:
            if str(key) not in content.systems:
                raise _fail(where, _("“%(key)s” is not a system of this file.") % {"key": key})
        recovery_order = data.pop("recovery_order", None)
        process = CriticalProcess(
            **{k: _text(v) for k, v in data.items()}, max_tolerable_downtime=mtd, rto=rto, rpo=rpo,
            recovery_order=recovery_order,
        )
        _clean(process, where)
        content.processes.append((process, [str(key) for key in system_keys]))


def template_load(*, directory: Path | None = None) -> TemplateContent:
    """Read and validate every template file. Raises TemplateError naming the file and the
    entry at the first problem. Returns fresh unsaved rows at each call."""
    directory = directory or TEMPLATE_DIR
    stamps = []
    for name in TEMPLATE_FILES:
        try:
            stamps.append((directory / name).stat().st_mtime_ns)
        except FileNotFoundError:
            stamps.append(-1)
    return _fresh_content(_load_validated(str(directory), tuple(stamps)))


def _fresh(row: Any) -> Any:
    """An unsaved copy of a validated row, without its relations (much cheaper than deepcopy)."""
    fields = row._meta.concrete_fields
    return type(row)(**{f.attname: getattr(row, f.attname) for f in fields if not f.is_relation and not f.primary_key})


def _fresh_content(cached: TemplateContent) -> TemplateContent:
    return TemplateContent(
        plan_fields=dict(cached.plan_fields), hints=dict(cached.hints),
        seats={key: _fresh(seat) for key, seat in cached.seats.items()},
        alert_steps=[(from_key, to_key, _fresh(step)) for from_key, to_key, step in cached.alert_steps],
        sheets=[SheetSpec(sheet=_fresh(spec.sheet), seat_key=spec.seat_key, items=[_fresh(i) for i in spec.items])
                for spec in cached.sheets],
        procedures=[_fresh(row) for row in cached.procedures],
        contacts=[_fresh(row) for row in cached.contacts],
        resources=[_fresh(row) for row in cached.resources],
        systems={key: _fresh(system) for key, system in cached.systems.items()},
        processes=[(_fresh(process), list(keys)) for process, keys in cached.processes],
    )


@functools.lru_cache(maxsize=8)
def _load_validated(directory_name: str, stamps: tuple[int, ...]) -> TemplateContent:
    """Validated once per version of the files (`stamps`): each new plan reads the template."""
    directory = Path(directory_name)
    content = TemplateContent()
    _load_cell(directory, content)
    _load_alert_tree(directory, content)
    _load_reflex_sheets(directory, content)
    content.procedures = _load_simple(
        directory, "degraded_procedures.yaml", "procedures", DegradedProcedure, "title",
        ("department_kind", "title"), ("switch_to_paper", "paper_forms", "who_runs", "result_flow", "return_to_normal"),
    )
    content.contacts = _load_simple(
        directory, "contacts.yaml", "contacts", ExternalContact, "organisation",
        ("kind", "organisation"), ("name", "phone", "phone_24_7", "email", "notes"),
    )
    content.resources = _load_simple(
        directory, "resources.yaml", "resources", Resource, "description",
        ("kind", "location"), ("description", "quantity"),
    )
    _load_processes(directory, content)
    return content


def template_hints() -> dict[str, str]:
    """Suggestions for the fields each establishment writes itself (meeting place, bridge…)."""
    return dict(template_load().hints)


def plan_is_empty(*, plan: Plan) -> bool:
    parts: list[models.QuerySet[Any]] = [
        plan.seats.all(), plan.alert_steps.all(), plan.reflex_sheets.all(), plan.degraded_procedures.all(),
        plan.it_systems.all(), plan.critical_processes.all(), plan.contacts.all(), plan.resources.all(),
    ]
    return not any(part.exists() for part in parts)


def template_apply(*, plan: Plan, actor: Actor | None = None, directory: Path | None = None) -> TemplateContent:
    """Fill an empty plan from the template, all or nothing. Refused on a plan that already
    has content, so that applying twice cannot duplicate or overwrite anyone's work."""
    content = template_load(directory=directory)
    with transaction.atomic():
        # Lock the plan: two concurrent applications would otherwise both see it empty.
        locked = Plan.objects.select_for_update().get(pk=plan.pk)
        if not plan_is_empty(plan=locked):
            raise ValidationError(
                _("This plan already has content: the template only fills an empty plan."), code="plan_not_empty"
            )
        changed = [name for name, value in content.plan_fields.items() if not getattr(locked, name)]
        for name in changed:
            setattr(locked, name, content.plan_fields[name])
            setattr(plan, name, content.plan_fields[name])
        if changed:
            locked.save(update_fields=changed)

        seats = list(content.seats.values())
        for seat in seats:
            seat.plan = locked
        Seat.objects.bulk_create(seats)
        for from_key, to_key, step in content.alert_steps:
            step.plan = locked
            step.from_seat = content.seats[from_key] if from_key else None
            step.to_seat = content.seats[to_key]
        AlertStep.objects.bulk_create([step for _f, _t, step in content.alert_steps])

        for spec in content.sheets:
            spec.sheet.plan = locked
            spec.sheet.owner_seat = content.seats[spec.seat_key] if spec.seat_key else None
        ReflexSheet.objects.bulk_create([spec.sheet for spec in content.sheets])
        items = []
        for spec in content.sheets:
            for item in spec.items:
                item.sheet = spec.sheet
                items.append(item)
        ReflexItem.objects.bulk_create(items)

        by_kind: dict[str, list[Department]] = {}
        for department in Department.objects.filter(establishment_id=locked.establishment_id):
            by_kind.setdefault(department.kind, []).append(department)
        for procedure in content.procedures:
            procedure.plan = locked
            matches = by_kind.get(procedure.department_kind, [])
            procedure.department = matches[0] if len(matches) == 1 else None
        DegradedProcedure.objects.bulk_create(content.procedures)

        rows: list[Any] = [*content.contacts, *content.resources, *content.systems.values()]
        for row in rows:
            row.plan = locked
        ExternalContact.objects.bulk_create(content.contacts)
        Resource.objects.bulk_create(content.resources)
        ITSystem.objects.bulk_create(list(content.systems.values()))
        for process, _keys in content.processes:
            process.plan = locked
        CriticalProcess.objects.bulk_create([process for process, _keys in content.processes])
        through = CriticalProcess.systems.through
        through.objects.bulk_create([
            through(criticalprocess_id=process.pk, itsystem_id=content.systems[key].pk)
            for process, keys in content.processes for key in keys
        ])
        counts = {
            "seats": len(seats), "alert_steps": len(content.alert_steps), "reflex_sheets": len(content.sheets),
            "reflex_items": len(items), "degraded_procedures": len(content.procedures),
            "contacts": len(content.contacts), "resources": len(content.resources),
            "it_systems": len(content.systems), "critical_processes": len(content.processes),
        }
        audit_record(
            actor=actor, action="plan.template.apply", obj=locked, establishment=locked.establishment,
            changes={name: [0, count] for name, count in counts.items()},
        )
    return content

