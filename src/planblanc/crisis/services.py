"""Writes of the crisis console. Every write checks the actor's right, validates before
writing, appends to the logbook (main courante) and to the audit log, all in one
transaction: nothing is half-saved.

Appends to one crisis's logbook are serialised by locking the crisis row (SELECT … FOR
UPDATE on PostgreSQL; SQLite takes its write lock at BEGIN IMMEDIATE), so concurrent
writers never fork the chain; the unique (crisis, seq) constraint is the last guard."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import CRISIS_PROCESS, Actor, OutsideParty, cell_member
from planblanc.crisis.chain import entry_digest, nfc
from planblanc.crisis.models import (
    DAMAGE_QUESTIONS,
    OPEN_TASK_STATUSES,
    Answer,
    Crisis,
    CrisisKind,
    CrisisStatus,
    CrisisTask,
    DamageAssessment,
    DamageAssessmentRevision,
    Decision,
    DepartmentState,
    DepartmentStatus,
    EntryKind,
    LogbookAttachment,
    LogbookEntry,
    LogbookTimestamp,
    Severity,
    StatusChange,
    SystemState,
    SystemStatus,
    TaskSource,
    TaskStatus,
)
from planblanc.directory.models import Department, Establishment, Function, Person
from planblanc.tenancy import user_label

logger = logging.getLogger(__name__)

MAX_TEXT = 20_000
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10


# Rights ----------------------------------------------------------------------------------


def _require_active(crisis: Crisis) -> None:
    if crisis.status != CrisisStatus.ACTIVE:
        raise ValidationError(_("This crisis has ended: its logbook is closed."), code="closed")


# Logbook ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentInput:
    name: str
    content: bytes
    content_type: str = ""


def _safe_name(name: str) -> str:
    name = unicodedata.normalize("NFC", os.path.basename(name or "").strip()) or "file"
    return re.sub(r"[^\w.\- ]", "_", name)[:120]


def _store_attachment(crisis: Crisis, item: AttachmentInput) -> dict[str, Any]:
    digest = hashlib.sha256(item.content).hexdigest()
    relative = Path("crisis") / str(crisis.pk) / f"{digest[:16]}-{_safe_name(item.name)}"
    target = Path(settings.DATA_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        tmp.write_bytes(item.content)
        os.replace(tmp, target)
    return {
        "name": nfc(item.name)[:255] or "file", "size": len(item.content), "sha256": digest,
        "path": str(relative), "content_type": (item.content_type or "")[:100],
    }


def _validate_entry(kind: str, text: str, attachments: Sequence[AttachmentInput]) -> str:
    errors: dict[str, list[Any]] = {}
    text = nfc(text).strip()
    if kind not in EntryKind.values:
        errors["kind"] = [_("Choose the kind of entry: event, decision, action, communication or information.")]
    if not text:
        errors["text"] = [_("Write what happened.")]
    elif len(text) > MAX_TEXT:
        errors["text"] = [_("An entry holds at most %(max)d characters.") % {"max": MAX_TEXT}]
    if len(attachments) > MAX_ATTACHMENTS:
        errors.setdefault("attachments", []).append(
            _("An entry holds at most %(max)d files.") % {"max": MAX_ATTACHMENTS})
    for item in attachments:
        if len(item.content) > MAX_ATTACHMENT_BYTES:
            errors.setdefault("attachments", []).append(
                _("The file %(name)s is larger than 10 MB.") % {"name": item.name}
            )
    if errors:
        raise ValidationError(errors)
    return text


def _append(
    *, crisis: Crisis, actor: Actor | OutsideParty, kind: str, text: str, corrects: LogbookEntry | None = None,
    files: Iterable[dict[str, Any]] = (), at: datetime.datetime | None = None, author_label: str | None = None,
) -> LogbookEntry:
    """Append one entry to the chain. Must run inside a transaction."""
    locked = Crisis.objects.select_for_update().only("pk", "head_seq", "head_hash").get(pk=crisis.pk)
    files = list(files)
    seq = locked.head_seq + 1
    moment = at or timezone.now()
    label = author_label if author_label is not None else (actor.label if isinstance(actor, OutsideParty) else user_label(actor))
    entry_hash = entry_digest(
        crisis_id=crisis.pk, seq=seq, at=moment, author=label[:200], kind=kind, text=text,
        corrects_seq=corrects.seq if corrects else None, attachments=files, prev_hash=locked.head_hash,
    )
    entry = LogbookEntry.objects.create(
        crisis_id=crisis.pk, seq=seq, at=moment, author=actor if getattr(actor, "is_authenticated", False) else None,
        author_label=nfc(label)[:200], kind=kind, text=text, corrects=corrects, prev_hash=locked.head_hash,
        entry_hash=entry_hash,
    )
    if files:
        LogbookAttachment.objects.bulk_create([
            LogbookAttachment(
                entry=entry, name=f["name"], sha256=f["sha256"], size_bytes=f["size"],
                content_type=f.get("content_type", ""), path=f["path"],
            )
            for f in files
        ])
    Crisis.objects.filter(pk=crisis.pk).update(head_seq=seq, head_hash=entry_hash, revision=F("revision") + 1)
    crisis.head_seq, crisis.head_hash = seq, entry_hash
    return entry


def _bump(crisis: Crisis, *sections: str) -> None:
    """A change of the console: the overall revision and each named section's stamp
    (`tasks`, `board`, `decisions`, `damage`) move on; pollers of other sections get 204."""
    fields = {f"{section}_rev": F(f"{section}_rev") + 1 for section in sections}
    Crisis.objects.filter(pk=crisis.pk).update(revision=F("revision") + 1, **fields)


def logbook_append(
    *, actor: Actor, crisis: Crisis, kind: str, text: str, corrects: LogbookEntry | None = None,
    attachments: Sequence[AttachmentInput] = (),
) -> LogbookEntry:
    """Add an entry to the logbook (main courante). A correction names the entry it
    corrects; the corrected entry stays as it was."""
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    text = _validate_entry(kind, text, attachments)
    if corrects is not None and corrects.crisis_id != crisis.pk:
        raise ValidationError({"corrects": [_("A correction must point to an entry of the same crisis.")]})
    files = [_store_attachment(crisis, item) for item in attachments]
    with transaction.atomic():
        entry = _append(crisis=crisis, actor=actor, kind=kind, text=text, corrects=corrects, files=files)
        audit_record(
            actor=actor, action="crisis.logbook_append", obj=entry, establishment=crisis.establishment,
            changes={"seq": entry.seq, "kind": kind, "hash": entry.entry_hash,
                     "corrects": corrects.seq if corrects else None,
                     "attachments": [f["sha256"] for f in files]},
        )
    return entry


def logbook_record_event(
    *, crisis: Crisis, actor: Actor, author_label: str, text: str, kind: str = str(EntryKind.EVENT),
) -> LogbookEntry | None:
    """An entry written by another capability of the platform about this crisis (a help
    request answered by the group, a situation report…), after that capability checked
    its own rights. Nothing is written to a crisis that has ended; the entry is chained
    like any other."""
    if crisis.status != CrisisStatus.ACTIVE:
        return None
    text = _validate_entry(str(kind), text, ())
    with transaction.atomic():
        entry = _append(crisis=crisis, actor=actor, kind=str(kind), text=text, author_label=author_label[:200])
        audit_record(
            actor=actor, action="crisis.logbook_record_event", obj=entry, establishment=crisis.establishment,
            changes={"seq": entry.seq, "kind": str(kind), "hash": entry.entry_hash},
        )
    return entry


# Declaration -------------------------------------------------------------------------------


def _brace_safe(text: str) -> str:
    # Campaign messages are templates with {variables}: our text is literal.
    return str(text or "").replace("{", "{{").replace("}", "}}")


def _snapshot_people(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """Seat holders and deputies of the approved plan, once each."""
    seen: set[Any] = set()
    people: list[dict[str, Any]] = []
    for seat in snapshot.get("seats", []):
        for person in [seat.get("holder"), *seat.get("deputies", [])]:
            if not person:
                continue
            key = person.get("id") or person.get("email") or person.get("name")
            if key in seen:
                continue
            seen.add(key)
            people.append(person)
    return people


def _cell_recipients(snapshot: dict[str, Any], establishment: Establishment) -> tuple[list[Any], list[Any]]:
    """The people of the cell (today's contact details where they still exist) and the
    seats: holders are alerted at once; a deputy who holds no seat waits on standby
    until the holder of their seat declines or stays silent."""
    from planblanc.alerting.services import RecipientInput, SeatInput, recipients_from_people

    people = _snapshot_people(snapshot)
    current = Person.objects.in_bulk([p["id"] for p in people if p.get("id")])

    def key_of(person: dict[str, Any]) -> Any:
        return person.get("id") or person.get("email") or person.get("name")

    holders = {key_of(seat["holder"]) for seat in snapshot.get("seats", []) if seat.get("holder")}
    recipients: list[Any] = []
    index: dict[Any, int] = {}
    for person in people:
        row = current.get(person.get("id"))
        standby = key_of(person) not in holders
        if row is not None:  # today's contact details, not those of the approval day
            item = recipients_from_people([row], establishment_name=establishment.name)[0]
            item = dataclasses.replace(item, standby=standby)
        else:
            item = RecipientInput(
                name=person.get("name", ""), email=person.get("email") or "",
                mobile_phone=person.get("mobile_phone") or "", landline_phone=person.get("landline_phone") or "",
                establishment_name=establishment.name, standby=standby,
            )
        index[key_of(person)] = len(recipients)
        recipients.append(item)
    seats = []
    for seat in snapshot.get("seats", []):
        members = [index[key_of(p)] for p in [seat.get("holder"), *seat.get("deputies", [])] if p]
        if members:
            seats.append(SeatInput(
                title=seat.get("title", "")[:200] or str(seat.get("key", "")), members=tuple(members),
                key=str(seat.get("key", "")), group=str(seat.get("cell", "")),
            ))
    return recipients, seats


def _cell_alert_options(snapshot: dict[str, Any], bridge: dict[str, Any]) -> dict[str, Any]:
    """How the cell alert goes out: every channel at once by default (the hospital's
    mail may be down), or email first then SMS and voice to whoever has not acknowledged
    (setting or the plan's `alert_mode`); open until acknowledged, with the default
    answers and the meeting point."""
    from planblanc.alerting.answers import DEFAULT_ANSWERS
    from planblanc.alerting.models import CampaignMode

    cell = snapshot.get("cell") or {}
    mode = cell.get("alert_mode") or settings.CRISIS_CELL_ALERT_MODE
    options: dict[str, Any] = {
        "keep_open": True, "answers": DEFAULT_ANSWERS,
        "rendezvous": {key: bridge.get(key) or "" for key in (
            "meeting_place", "fallback_place", "bridge_phone", "bridge_code", "bridge_notes",
        )},
        "standby_after_minutes": int(cell.get("deputy_after_minutes") or settings.ALERTING_STANDBY_AFTER_MINUTES),
    }
    if mode == "email_first":
        options.update(mode=CampaignMode.FALLBACK, channels=("email", "sms", "voice"))
        options["followup_minutes"] = int(
            cell.get("alert_followup_minutes") or settings.CRISIS_CELL_ALERT_FOLLOWUP_MINUTES
        )
    else:
        options.update(mode=CampaignMode.PARALLEL, channels=("email", "sms", "voice"))
    return options


def _alert_texts(crisis: Crisis, bridge: dict[str, Any]) -> tuple[str, str, str]:
    context = {"crisis": crisis, "bridge": bridge, "establishment": crisis.establishment}
    texts = []
    for language in ("fr", "en"):
        with translation.override(language):
            texts.append(_brace_safe(render_to_string(f"crisis/messages/alert_{language}.txt", context).strip()))
    with translation.override("fr"):
        title = render_to_string("crisis/messages/alert_title_fr.txt", context).strip()
    return _brace_safe(title)[:200], texts[0], texts[1]


def _owner_for(sheet: dict[str, Any], seats: list[dict[str, Any]], establishment: Establishment) -> tuple[
    Person | None, str, str
]:
    """Owner of a reflex sheet's tasks: the holder of its seat, else of the seat of its
    function, else the person holding that function in the establishment."""
    function = sheet.get("owner_function") or ""
    seat = next((s for s in seats if sheet.get("owner_seat") and s.get("key") == sheet["owner_seat"]), None)
    if seat is None and function:
        seat = next((s for s in seats if s.get("function") == function and s.get("holder")), None)
    function = function or (seat or {}).get("function") or ""
    holder = (seat or {}).get("holder")
    if holder:
        person = Person.objects.filter(pk=holder.get("id")).first()
        return person, holder.get("name", "")[:200], function
    if function:
        membership = (
            establishment.memberships.filter(function=function).select_related("person").order_by("id").first()
        )
        if membership is not None:
            return membership.person, membership.person.full_name[:200], function
        return None, str(Function(function).label) if function in Function.values else function, function
    return None, (seat or {}).get("title", "")[:200], function


def crisis_declare(
    *, actor: Actor, establishment: Establishment, kind: str, severity: str, first_facts: str,
    is_exercise: bool = False, confirm_second: bool = False,
) -> Crisis:
    """Declare a crisis: this triggers the plan. In one transaction: the crisis, the first
    logbook entry, the tasks of the approved plan's reflex sheets (owner by role, due
    time from the declaration), the status board (every department normal, every IT
    system of the plan up), the damage assessment checklist, and the alert to the crisis
    cell (seat holders and deputies) with the bridge details."""
    from planblanc.plans.models import Plan, PlanVersion

    if not rights.may_declare_crisis(actor, establishment):
        raise PermissionDenied(
            _("Only the director of the establishment or a deputy director may declare a crisis.")
        )
    first_facts = nfc(first_facts).strip()
    errors: dict[str, list[Any]] = {}
    if kind not in CrisisKind.values:
        errors["kind"] = [_("Choose the type of crisis.")]
    if severity not in Severity.values:
        errors["severity"] = [_("Choose the severity.")]
    if not first_facts:
        errors["first_facts"] = [_("Write the first facts: what was seen, when, by whom.")]
    elif len(first_facts) > MAX_TEXT:
        errors["first_facts"] = [_("At most %(max)d characters.") % {"max": MAX_TEXT}]
    if errors:
        raise ValidationError(errors)
    active = Crisis.objects.filter(establishment=establishment, status=CrisisStatus.ACTIVE)
    if active.exists() and not confirm_second:
        raise ValidationError(
            _("A crisis is already active for this establishment. Confirm that you declare a second one."),
            code="second_crisis",
        )
    plan = Plan.objects.filter(establishment=establishment).first()
    version = (
        PlanVersion.objects.filter(plan=plan).order_by("-number").first() if plan is not None else None
    )
    snapshot: dict[str, Any] = version.snapshot if version is not None else {}
    bridge = dict(snapshot.get("cell") or {})
    now = timezone.now()
    label = user_label(actor)
    with transaction.atomic():
        crisis = Crisis.objects.create(
            establishment=establishment, kind=kind, severity=severity, first_facts=first_facts,
            is_exercise=is_exercise, declared_at=now, declared_by=actor, declared_by_label=label[:200],
            plan_version=version, bridge=bridge,
        )
        opening = _("Crisis declared: %(kind)s, severity %(severity)s.") % {
            "kind": crisis.get_kind_display(), "severity": crisis.get_severity_display(),
        }
        if is_exercise:
            opening = _("EXERCISE.") + " " + opening
        opening += "\n" + _("First facts: %(facts)s") % {"facts": first_facts}
        opening += "\n" + (
            _("Plan: approved version %(number)d.") % {"number": version.number} if version is not None
            else _("Plan: no approved version; no tasks from reflex sheets.")
        )
        _append(crisis=crisis, actor=actor, kind=str(EntryKind.EVENT), text=opening, at=now)

        seats = snapshot.get("seats", [])
        tasks = []
        order = 0
        for sheet in snapshot.get("reflex_sheets", []):
            owner, owner_label, function = _owner_for(sheet, seats, establishment)
            for item in sheet.get("items", []):
                if not item.get("becomes_task", True):
                    continue
                order += 1
                minutes = item.get("due_minutes")
                tasks.append(CrisisTask(
                    crisis=crisis, title=item["text"][:500], source=TaskSource.REFLEX_SHEET,
                    sheet_title=sheet.get("title", "")[:200], phase=item.get("phase", "")[:10],
                    owner_function=function, owner=owner, owner_label=owner_label,
                    due_at=now + datetime.timedelta(minutes=minutes) if minutes is not None else None,
                    order=order,
                ))
        CrisisTask.objects.bulk_create(tasks)
        DepartmentStatus.objects.bulk_create([
            DepartmentStatus(crisis=crisis, department=department, name=department.name, changed_at=now)
            for department in Department.objects.filter(establishment=establishment).order_by("name")
        ])
        SystemStatus.objects.bulk_create([
            SystemStatus(crisis=crisis, name=system["name"][:200], criticality=system.get("criticality"),
                         changed_at=now)
            for system in snapshot.get("it_systems", [])
        ])
        DamageAssessment.objects.create(crisis=crisis, updated_at=now)

        recipients, seats = _cell_recipients(snapshot, establishment)
        if recipients:
            from planblanc.alerting.followup import followup_schedule
            from planblanc.alerting.services import campaign_create

            title, message_fr, message_en = _alert_texts(crisis, bridge)
            options = _cell_alert_options(snapshot, bridge)
            followup_minutes = options.pop("followup_minutes", None)
            campaign = campaign_create(
                actor=CRISIS_PROCESS, title=title, message_fr=message_fr, message_en=message_en,
                recipients=recipients, establishment=establishment, is_exercise=is_exercise, seats=seats,
                **options,
            )
            if followup_minutes is not None:
                # Email first: SMS, then voice, to whoever has not acknowledged by then.
                from planblanc.alerting.channels.base import providers_for

                for channel in ("sms", "voice"):
                    if providers_for(channel):
                        followup_schedule(
                            actor=CRISIS_PROCESS, campaign=campaign, channel=channel, after_minutes=followup_minutes,
                        )
            crisis.campaign = campaign
            crisis.save(update_fields=["campaign"])
            from planblanc.alerting.tasks import crisis_room_requested

            crisis_room_requested(crisis_id=crisis.pk)
            note = _("Crisis cell alerted: %(count)d people (alert campaign #%(id)d).") % {
                "count": len(recipients), "id": campaign.pk,
            }
        else:
            note = _("No crisis cell to alert: the establishment has no approved plan with seat holders.")
        _append(crisis=crisis, actor=actor, kind=str(EntryKind.COMMUNICATION), text=note)
        audit_record(
            actor=actor, action="crisis.declare", obj=crisis, establishment=establishment,
            changes={"kind": kind, "severity": severity, "is_exercise": is_exercise,
                     "plan_version": version.number if version else None, "tasks": len(tasks),
                     "campaign": crisis.campaign_id},
        )
        # Timestamps of the logbook head and digests to the cell while it is active.
        transaction.on_commit(_anchor_schedule)
    return crisis


# The anchoring task (crisis/tasks.py) registers its scheduler here from
# CrisisConfig.ready: this module never imports the tasks, they import it.
_anchor_scheduler: Callable[[], object] | None = None


def anchor_scheduler_register(scheduler: Callable[[], object]) -> None:
    global _anchor_scheduler
    _anchor_scheduler = scheduler


def _anchor_schedule() -> None:
    if _anchor_scheduler is None:
        logger.warning("no logbook anchoring scheduler registered: `planblanc worker` will anchor")
        return
    _anchor_scheduler()


# Decisions, tasks, status board, damage assessment -------------------------------------


def decision_record(
    *, actor: Actor, crisis: Crisis, text: str, rationale: str = "", decided_by: str = "",
    decided_at: datetime.datetime | None = None,
) -> Decision:
    """Register a decision; its logbook entry is written with it."""
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    text, rationale = nfc(text).strip(), nfc(rationale).strip()
    decided_by = nfc(decided_by).strip() or user_label(actor)
    errors: dict[str, list[Any]] = {}
    if not text:
        errors["text"] = [_("Write the decision.")]
    if decided_at is not None and decided_at > timezone.now() + datetime.timedelta(minutes=5):
        errors["decided_at"] = [_("A decision cannot be recorded in the future.")]
    if len(text) + len(rationale) > MAX_TEXT:
        errors["text"] = [_("At most %(max)d characters.") % {"max": MAX_TEXT}]
    if errors:
        raise ValidationError(errors)
    when = decided_at or timezone.now()
    with transaction.atomic():
        line = _("Decision by %(who)s: %(text)s") % {"who": decided_by, "text": text}
        if rationale:
            line += "\n" + _("Rationale: %(why)s") % {"why": rationale}
        entry = _append(crisis=crisis, actor=actor, kind=str(EntryKind.DECISION), text=line)
        decision = Decision.objects.create(
            crisis=crisis, text=text, rationale=rationale, decided_by=decided_by[:200], decided_at=when,
            recorded_by_label=user_label(actor)[:200], logbook_entry=entry,
        )
        _bump(crisis, "decisions")
        audit_record(actor=actor, action="crisis.decision", obj=decision, establishment=crisis.establishment,
                     changes={"seq": entry.seq})
    return decision


def task_create(
    *, actor: Actor, crisis: Crisis, title: str, owner: Person | None = None, owner_label: str = "",
    due_at: datetime.datetime | None = None,
) -> CrisisTask:
    """An ad hoc task on the board."""
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    title = nfc(title).strip()
    if not title:
        raise ValidationError({"title": [_("Write the task.")]})
    if len(title) > 500:
        raise ValidationError({"title": [_("At most %(max)d characters.") % {"max": 500}]})
    if owner is not None and not owner.memberships.filter(establishment=crisis.establishment).exists():
        raise ValidationError({"owner": [_("The owner must be a person of this establishment.")]})
    label = (owner.full_name if owner else nfc(owner_label).strip())[:200]
    with transaction.atomic():
        task = CrisisTask.objects.create(
            crisis=crisis, title=title, source=TaskSource.AD_HOC, owner=owner, owner_label=label, due_at=due_at,
            order=CrisisTask.objects.filter(crisis=crisis).count() + 1,
        )
        _append(crisis=crisis, actor=actor, kind=str(EntryKind.ACTION),
                text=_("New task: %(title)s (owner: %(owner)s)") % {"title": title, "owner": label or "-"})
        _bump(crisis, "tasks")
        audit_record(actor=actor, action="crisis.task_create", obj=task, establishment=crisis.establishment)
    return task


def task_set_status(*, actor: Actor, task: CrisisTask, status: str) -> CrisisTask:
    """Move a task on the board; completing or cancelling it writes the logbook."""
    crisis = task.crisis
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    if status not in TaskStatus.values:
        raise ValidationError({"status": [_("Unknown task status.")]})
    with transaction.atomic():
        locked = CrisisTask.objects.select_for_update().get(pk=task.pk)
        before = locked.status
        if before == status:
            return locked
        locked.status = status
        fields = ["status"]
        if status == TaskStatus.DONE:
            locked.completed_at = timezone.now()
            locked.completed_by_label = user_label(actor)[:200]
            fields += ["completed_at", "completed_by_label"]
        locked.save(update_fields=fields)
        if status in (TaskStatus.DONE, TaskStatus.CANCELLED) or before not in OPEN_TASK_STATUSES:
            text = {
                TaskStatus.DONE: _("Task done: %(title)s"),
                TaskStatus.CANCELLED: _("Task cancelled: %(title)s"),
            }.get(TaskStatus(status), _("Task reopened: %(title)s")) % {"title": locked.title}
            _append(crisis=crisis, actor=actor, kind=str(EntryKind.ACTION), text=text)
        _bump(crisis, "tasks")
        audit_record(actor=actor, action="crisis.task_status", obj=locked, establishment=crisis.establishment,
                     changes={"status": [before, status]})
    return locked


def _status_change(
    *, actor: Actor, row: DepartmentStatus | SystemStatus, status: str, note: str, choices: Any, what: str,
) -> StatusChange:
    crisis = row.crisis
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    note = nfc(note).strip()[:300]
    if status not in choices.values:
        raise ValidationError({"status": [_("Unknown status.")]})
    with transaction.atomic():
        locked = type(row).objects.select_for_update().get(pk=row.pk)
        before = locked.status
        if before == status and note == locked.note:
            raise ValidationError({"status": [_("The status is already %(status)s.") % {
                "status": choices(status).label}]})
        now = timezone.now()
        locked.status, locked.note, locked.changed_at = status, note, now
        locked.changed_by_label = user_label(actor)[:200]
        locked.save(update_fields=["status", "note", "changed_at", "changed_by_label"])
        text = _("%(what)s %(name)s: %(before)s → %(after)s") % {
            "what": what, "name": locked.name, "before": choices(before).label, "after": choices(status).label,
        }
        if note:
            text += f" — {note}"
        entry = _append(crisis=crisis, actor=actor, kind=str(EntryKind.EVENT), text=text)
        change = StatusChange.objects.create(
            crisis=crisis, name=locked.name, from_status=before, to_status=status, note=note, at=now,
            by=actor if getattr(actor, "is_authenticated", False) else None, by_label=user_label(actor)[:200],
            logbook_entry=entry,
            department_status=locked if isinstance(locked, DepartmentStatus) else None,
            system_status=locked if isinstance(locked, SystemStatus) else None,
        )
        _bump(crisis, "board")
        audit_record(actor=actor, action="crisis.status_change", obj=locked, establishment=crisis.establishment,
                     changes={"status": [before, status]})
    row.status, row.note, row.changed_at = status, note, now
    return change


def department_status_change(*, actor: Actor, row: DepartmentStatus, status: str, note: str = "") -> StatusChange:
    """A department goes to degraded mode, stops, or comes back to normal."""
    return _status_change(actor=actor, row=row, status=status, note=note, choices=DepartmentState,
                          what=_("Department"))


def system_status_change(*, actor: Actor, row: SystemStatus, status: str, note: str = "") -> StatusChange:
    """An IT system goes down, is found compromised, isolated, restoring, restored."""
    return _status_change(actor=actor, row=row, status=status, note=note, choices=SystemState,
                          what=_("IT system"))


def system_status_add(*, actor: Actor, crisis: Crisis, name: str) -> SystemStatus:
    """An IT system that was not in the plan, added to the board."""
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    name = nfc(name).strip()[:200]
    if not name:
        raise ValidationError({"name": [_("Name the IT system.")]})
    if SystemStatus.objects.filter(crisis=crisis, name__iexact=name).exists():
        raise ValidationError({"name": [_("This IT system is already on the board.")]})
    with transaction.atomic():
        row = SystemStatus.objects.create(crisis=crisis, name=name, changed_by_label=user_label(actor)[:200])
        _append(crisis=crisis, actor=actor, kind=str(EntryKind.INFORMATION),
                text=_("IT system added to the status board: %(name)s") % {"name": name})
        _bump(crisis, "board")
        audit_record(actor=actor, action="crisis.system_add", obj=row, establishment=crisis.establishment)
    return row


def damage_assessment_update(*, actor: Actor, crisis: Crisis, data: dict[str, Any]) -> DamageAssessment:
    """Answer the damage assessment checklist; each change is kept and logged."""
    rights.require_run_crisis(actor, crisis)
    _require_active(crisis)
    errors: dict[str, list[Any]] = {}
    clean: dict[str, str] = {}
    for name, (_label, kind) in DAMAGE_QUESTIONS.items():
        if name not in data:
            continue
        value = nfc(str(data[name] or "")).strip()
        if kind == "answer" and value not in Answer.values:
            errors[name] = [_("Answer yes, no, partly or not known yet.")]
        elif len(value) > 5000:
            errors[name] = [_("At most %(max)d characters.") % {"max": 5000}]
        clean[name] = value
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        assessment, _created = DamageAssessment.objects.select_for_update().get_or_create(crisis=crisis)
        changes = {
            name: [getattr(assessment, name), value] for name, value in clean.items()
            if getattr(assessment, name) != value
        }
        if not changes:
            return assessment
        for name, (_before, after) in changes.items():
            setattr(assessment, name, after)
        assessment.updated_at = timezone.now()
        assessment.updated_by_label = user_label(actor)[:200]
        assessment.save()
        lines = []
        for name, (_before, after) in changes.items():
            label, kind = DAMAGE_QUESTIONS[name]
            shown = Answer(after).label if kind == "answer" else after
            lines.append(f"- {label}: {shown}")
        entry = _append(crisis=crisis, actor=actor, kind=str(EntryKind.INFORMATION),
                        text=_("Damage assessment updated:") + "\n" + "\n".join(lines))
        DamageAssessmentRevision.objects.create(
            assessment=assessment, changes=changes, by_label=user_label(actor)[:200], logbook_entry=entry,
        )
        _bump(crisis, "damage")
        audit_record(actor=actor, action="crisis.damage_assessment", obj=assessment,
                     establishment=crisis.establishment, changes=changes)
    return assessment


def _close(*, actor: Actor, crisis: Crisis, text: str, now: datetime.datetime) -> None:
    """The closing entry (the last of the logbook), the closing time and who closed it,
    the audit entry, and the timestamp of the final head once committed."""
    with transaction.atomic():
        _append(crisis=crisis, actor=actor, kind=str(EntryKind.EVENT), text=text, at=now)
        Crisis.objects.filter(pk=crisis.pk).update(
            status=CrisisStatus.CLOSED, closed_at=now, closed_by_label=user_label(actor)[:200],
        )
        crisis.status, crisis.closed_at, crisis.closed_by_label = CrisisStatus.CLOSED, now, user_label(actor)[:200]
        audit_record(actor=actor, action="crisis.close", obj=crisis, establishment=crisis.establishment,
                     changes={"head": crisis.head_hash, "entries": crisis.head_seq})
        transaction.on_commit(lambda: logbook_timestamp_head(crisis=crisis))


def crisis_close(*, actor: Actor, crisis: Crisis, summary: str) -> Crisis:
    """End of crisis: the closing entry is the last of the logbook. Irreversible, so it
    is the director's or a deputy director's act, like declaring."""
    if not rights.may_end_crisis(actor, crisis):
        raise PermissionDenied(_("Only the director of the establishment or a deputy director may end a crisis."))
    _require_active(crisis)
    summary = nfc(summary).strip()
    if not summary:
        raise ValidationError({"summary": [_("Write the closing entry: how the crisis ends.")]})
    _close(actor=actor, crisis=crisis, text=_("End of crisis: %(summary)s") % {"summary": summary},
           now=timezone.now())
    return crisis


# Exercise crises --------------------------------------------------------------------------


def exercise_crisis_open(
    *, actor: Actor, establishment: Establishment, title: str, now: datetime.datetime | None = None,
) -> Crisis:
    """The players' crisis console of an exercise: an exercise crisis (never in the
    statistics) with its own logbook, damage assessment and task board. Opened by the
    animator who starts the run (the right to run exercises), not declared by the
    director: the crisis cell is alerted by the injects themselves."""
    rights.require_prepare_exercises(actor, establishment)
    now = now or timezone.now()
    with transaction.atomic():
        crisis = Crisis.objects.create(
            establishment=establishment, kind=CrisisKind.values[0], severity=Severity.values[0],
            first_facts=(_("Exercise: %(title)s") % {"title": title}),
            is_exercise=True, declared_at=now, declared_by=actor if getattr(actor, "is_authenticated", False) else None,
            declared_by_label=user_label(actor)[:200],
        )
        DamageAssessment.objects.create(crisis=crisis, updated_at=now)
        _append(crisis=crisis, actor=actor, kind=str(EntryKind.EVENT), at=now,
                text=_("EXERCISE. Start of the exercise “%(title)s”.") % {"title": title})
        audit_record(actor=actor, action="crisis.declare", obj=crisis, establishment=establishment,
                     changes={"is_exercise": True})
    return crisis


def exercise_crisis_close(*, actor: Actor, crisis: Crisis, now: datetime.datetime | None = None) -> Crisis:
    """End of the exercise: its crisis closes like a real one (closing entry, time,
    audit entry, timestamp), by the animator. Nothing when it is already closed."""
    if not crisis.is_exercise:
        raise ValidationError(_("Only an exercise crisis ends with its exercise."))
    rights.require_prepare_exercises(actor, crisis.establishment)
    with transaction.atomic():
        locked = Crisis.objects.select_for_update().get(pk=crisis.pk)
        if locked.status == CrisisStatus.ACTIVE:
            _close(actor=actor, crisis=locked, text=_("EXERCISE. End of the exercise."), now=now or timezone.now())
    return locked


def logbook_export_record(*, actor: Actor, crisis: Crisis, fmt: str, content: bytes) -> None:
    audit_record(
        actor=actor, action=f"crisis.logbook_export.{fmt}", obj=crisis, establishment=crisis.establishment,
        changes={"head": crisis.head_hash, "entries": crisis.head_seq,
                 "sha256": hashlib.sha256(content).hexdigest()},
    )


# Timestamping (RFC 3161) ----------------------------------------------------------------


def tsa_url() -> str:
    return str(settings.PLANBLANC_TSA_URL or "").strip()


def logbook_timestamp_head(*, crisis: Crisis, timeout: float = 10.0) -> LogbookTimestamp | None:
    """Ask the configured timestamping authority (PLANBLANC_TSA_URL) to timestamp the
    logbook head. Nothing when none is configured; a failure is recorded, not raised:
    the chain stands without it."""
    url = tsa_url()
    if not url:
        return None
    import urllib.request

    import rfc3161_client

    head = Crisis.objects.filter(pk=crisis.pk).values("head_seq", "head_hash").get()
    error, token, gen_time = "", None, None
    try:
        request = rfc3161_client.TimestampRequestBuilder().data(bytes.fromhex(head["head_hash"])).nonce(
            nonce=True
        ).build()
        if not url.startswith(("http://", "https://")):
            raise ValueError("PLANBLANC_TSA_URL must be an http(s) address")
        http = urllib.request.Request(  # noqa: S310 (checked above)
            url, data=request.as_bytes(), headers={"Content-Type": "application/timestamp-query"}, method="POST",
        )
        with urllib.request.urlopen(http, timeout=timeout) as answer:  # noqa: S310
            body = answer.read()
        response = rfc3161_client.decode_timestamp_response(body)
        if response.status != rfc3161_client.PKIStatus.GRANTED and response.status != 1:
            raise ValueError(f"status {response.status}")
        token, gen_time = body, response.tst_info.gen_time
    except Exception as exc:  # the authority may be unreachable during an attack
        error = str(exc)[:500] or exc.__class__.__name__
        logger.warning("logbook timestamp failed for crisis %s: %s", crisis.pk, error)
    return LogbookTimestamp.objects.create(
        crisis_id=crisis.pk, seq=head["head_seq"], entry_hash=head["head_hash"], tsa_url=url[:500], token=token,
        gen_time=gen_time, error=error,
    )


# Entries from chat rooms (Matrix/Tchap) ----------------------------------------------------


def crisis_cell_person_ids(*, crisis: Crisis) -> set[int]:
    """The people alerted as the crisis cell at the declaration (seat holders, deputies)."""
    from planblanc.alerting.models import Recipient

    if crisis.campaign_id is None:
        return set()
    return set(
        Recipient.objects.filter(campaign_id=crisis.campaign_id, person__isnull=False)
        .values_list("person_id", flat=True)
    )


def logbook_append_from_chat(*, crisis: Crisis, person: Person, text: str, via: str = "Matrix") -> LogbookEntry:
    """A cell member writes to the logbook from a chat room (`!mc …`). They may have no
    login: the chat account, matched to a person of the cell, is the credential. The
    entry is authored by that person and chained like any other."""
    if person.pk not in crisis_cell_person_ids(crisis=crisis):
        raise PermissionDenied(_("Only members of the crisis cell may write to the logbook."))
    _require_active(crisis)
    text = _validate_entry(str(EntryKind.INFORMATION), nfc(text).strip(), ())
    label = f"{person.full_name} ({via})"
    with transaction.atomic():
        entry = _append(
            crisis=crisis, actor=cell_member(person.pk), kind=str(EntryKind.INFORMATION), text=text,
            author_label=label,
        )
        audit_record(
            actor=cell_member(person.pk), action="crisis.logbook_append", obj=entry,
            establishment=crisis.establishment,
            changes={"seq": entry.seq, "kind": str(EntryKind.INFORMATION), "hash": entry.entry_hash, "via": via},
        )
    return entry
