"""The plan as one canonical document (a JSON-ready dict).

The working draft is serialised with `plan_snapshot(plan)`; approval stores that dict in
a PlanVersion. Everything downstream — paper kit, offline bundle, comparison of two
versions, tasks of a declared crisis — reads this document, never the live rows, so an
approved version prints exactly as it was approved.

Schema (version 1): codes, not labels (labels are rendered in the reader's language).
People are copied with their phone numbers as they were at approval time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import Prefetch

from planblanc.directory.models import Person
from planblanc.plans.models import (
    AlertStep,
    CriticalProcess,
    DegradedProcedure,
    ExternalContact,
    ITSystem,
    Plan,
    ReflexItem,
    ReflexSheet,
    Resource,
    Seat,
    SeatDeputy,
)

SCHEMA_VERSION = 1


def _person(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {
        "id": person.pk,
        "name": person.full_name,
        "job_title": person.job_title,
        "mobile_phone": person.mobile_phone,
        "landline_phone": person.landline_phone,
        "email": person.email,
    }


def _duration_seconds(value: Any) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    establishment = plan.establishment
    seats = list(
        Seat.objects.filter(plan=plan).select_related("holder").prefetch_related(
            Prefetch("deputies", queryset=SeatDeputy.objects.select_related("person"))
        )
    )
    seat_keys = {seat.pk: f"seat-{seat.pk}" for seat in seats}
    sheets = ReflexSheet.objects.filter(plan=plan).select_related("owner_seat").prefetch_related(
        Prefetch("items", queryset=ReflexItem.objects.order_by("phase", "order", "id"))
    )
    systems = list(ITSystem.objects.filter(plan=plan).select_related("owner"))
    processes = CriticalProcess.objects.filter(plan=plan).prefetch_related("systems")
    return {
        "schema": SCHEMA_VERSION,
        "establishment": {
            "finess": establishment.finess,
            "name": establishment.name,
            "category": establishment.category,
            "is_essential_operator": establishment.is_essential_operator,
            "city": establishment.city,
            "switchboard_phone": establishment.switchboard_phone,
        },
        "cell": {
            "meeting_place": plan.meeting_place,
            "fallback_place": plan.fallback_place,
            "bridge_phone": plan.bridge_phone,
            "bridge_code": plan.bridge_code,
            "bridge_notes": plan.bridge_notes,
            "briefing_rhythm": plan.briefing_rhythm,
        },
        "seats": [
            {
                "key": seat_keys[seat.pk],
                "cell": seat.cell,
                "title": seat.title,
                "function": seat.function,
                "mission": seat.mission,
                "holder": _person(seat.holder),
                "deputies": [_person(deputy.person) for deputy in seat.deputies.all()],
            }
            for seat in seats
        ],
        "alert_tree": [
            {
                "order": step.order,
                "from_seat": seat_keys.get(step.from_seat_id) if step.from_seat_id else None,
                "to_seat": seat_keys[step.to_seat_id],
                "means": step.means,
                "fallback_means": step.fallback_means,
                "delay_minutes": step.delay_minutes,
                "note": step.note,
            }
            for step in AlertStep.objects.filter(plan=plan)
        ],
        "reflex_sheets": [
            {
                "title": sheet.title,
                "owner_function": sheet.owner_function,
                "owner_seat": seat_keys.get(sheet.owner_seat_id) if sheet.owner_seat_id else None,
                "purpose": sheet.purpose,
                "items": [
                    {
                        "phase": item.phase,
                        "text": item.text,
                        "becomes_task": item.becomes_task,
                        "due_minutes": item.due_after_minutes,
                    }
                    for item in sheet.items.all()
                ],
            }
            for sheet in sheets
        ],
        "degraded_procedures": [
            {
                "department_kind": procedure.department_kind,
                "title": procedure.title,
                "switch_to_paper": procedure.switch_to_paper,
                "paper_forms": procedure.paper_forms,
                "who_runs": procedure.who_runs,
                "result_flow": procedure.result_flow,
                "return_to_normal": procedure.return_to_normal,
            }
            for procedure in DegradedProcedure.objects.filter(plan=plan)
        ],
        "it_systems": [
            {
                "name": system.name,
                "description": system.description,
                "owner": _person(system.owner),
                "vendor": system.vendor,
                "vendor_contact_24_7": system.vendor_contact_24_7,
                "criticality": system.criticality,
                "backup_method": system.backup_method,
                "has_offline_copy": system.has_offline_copy,
                "last_restore_test": system.last_restore_test.isoformat() if system.last_restore_test else None,
                "recovery_order": system.recovery_order,
            }
            for system in systems
        ],
        "critical_processes": [
            {
                "name": process.name,
                "description": process.description,
                "impacts": {
                    "4h": process.impact_4h, "24h": process.impact_24h,
                    "72h": process.impact_72h, "1w": process.impact_1w,
                },
                "max_tolerable_downtime_seconds": _duration_seconds(process.max_tolerable_downtime),
                "rto_seconds": _duration_seconds(process.rto),
                "rpo_seconds": _duration_seconds(process.rpo),
                "recovery_order": process.recovery_order,
                "systems": sorted(system.name for system in process.systems.all()),
            }
            for process in processes
        ],
        "contacts": [
            {
                "kind": contact.kind,
                "organisation": contact.organisation,
                "name": contact.name,
                "phone": contact.phone,
                "phone_24_7": contact.phone_24_7,
                "email": contact.email,
                "notes": contact.notes,
            }
            for contact in ExternalContact.objects.filter(plan=plan)
        ],
        "resources": [
            {
                "kind": resource.kind,
                "description": resource.description,
                "quantity": resource.quantity,
                "location": resource.location,
                "checked_on": resource.checked_on.isoformat() if resource.checked_on else None,
            }
            for resource in Resource.objects.filter(plan=plan)
        ],
    }


def snapshot_sha256(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Comparison ---------------------------------------------------------------------------

# How items of each list are matched between two versions (their natural key).
SECTION_KEYS: dict[str, Any] = {
    "seats": lambda item: (item["cell"], item["title"]),
    "alert_tree": lambda item: (item["order"], item["to_seat"]),
    "reflex_sheets": lambda item: item["title"],
    "degraded_procedures": lambda item: item["title"],
    "it_systems": lambda item: item["name"],
    "critical_processes": lambda item: item["name"],
    "contacts": lambda item: (item["kind"], item["organisation"]),
    "resources": lambda item: (item["kind"], item["location"]),
}


def _label(key: Any) -> str:
    return " / ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _plain_person(value: Any) -> Any:
    # Compare people by what shows on paper, not by database id.
    if isinstance(value, dict) and "name" in value and "id" in value:
        return {k: v for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_plain_person(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_person(v) for k, v in value.items()}
    return value


def snapshot_diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Changes from `before` to `after`: one entry per added, removed or changed item,
    with the fields that changed."""
    changes: list[dict[str, Any]] = []
    for section in ("establishment", "cell"):
        old, new = before.get(section, {}), after.get(section, {})
        fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if fields:
            changes.append({
                "section": section, "item": "", "change": "changed",
                "fields": {k: [old.get(k), new.get(k)] for k in fields},
            })
    for section, key_of in SECTION_KEYS.items():
        old_items = {key_of(item): _plain_person(item) for item in before.get(section, [])}
        new_items = {key_of(item): _plain_person(item) for item in after.get(section, [])}
        for key in sorted(set(old_items) | set(new_items), key=_label):
            old, new = old_items.get(key), new_items.get(key)
            if old is None:
                changes.append({"section": section, "item": _label(key), "change": "added", "fields": {}})
            elif new is None:
                changes.append({"section": section, "item": _label(key), "change": "removed", "fields": {}})
            elif old != new:
                fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                changes.append({
                    "section": section, "item": _label(key), "change": "changed",
                    "fields": {k: [old.get(k), new.get(k)] for k in fields},
                })
    return changes
