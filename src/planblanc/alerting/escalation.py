"""Escalation: call a policy's levels in order (a person, whoever is on call in a
rotation, a group), wait for an acknowledgement at each, call a level again as many
times as it repeats, then move to the next one — until someone acknowledges or no
level is left.

The policy is copied into the escalation when it starts (`policy_snapshot`): editing
the policy later changes nothing for alerts already running. The state (level, repeat,
next step due at, `step_seq`) lives in the escalation row. A worker takes a step with
a conditional UPDATE on `step_seq`, and writes the step's campaign (its outbox of
deliveries) in the same transaction: a worker that dies before its commit leaves the
step untaken, one that dies after has taken it for good, and two workers never take
the same step."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import actors
from planblanc.accounts.audit import audit_record
from planblanc.actors import ESCALATION_WORKER, Actor, OutsideParty, SystemActor
from planblanc.alerting import services
from planblanc.alerting.models import (
    Channel,
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    EscalationStatus,
    EscalationStep,
    LevelKind,
    OnCallRotation,
    Recipient,
)
from planblanc.alerting.oncall import oncall_at
from planblanc.alerting.templating import template_check
from planblanc.directory.models import Establishment, Person
from planblanc.tenancy import Perm, can, get_for_user

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LevelInput:
    kind: str
    person: Person | None = None
    rotation: OnCallRotation | None = None
    people: Sequence[Person] = field(default_factory=tuple)
    wait_seconds: int = 300
    repeats: int = 0


# Policies ---------------------------------------------------------------------------------


def _check(actor: Actor, establishment: Establishment) -> None:
    if not can(actor, Perm.MANAGE_PEOPLE, establishment):
        raise PermissionDenied(_("You are not allowed to manage escalations here."))


def policy_create(
    *, actor: Actor, establishment: Establishment, name: str, channels: Sequence[str], levels: Sequence[LevelInput]
) -> EscalationPolicy:
    _check(actor, establishment)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("Give the policy a name."))
    unknown = [c for c in channels if c not in Channel.values]
    if not channels or unknown:
        errors.setdefault("channels", []).append(_("Choose the channels to call people on."))
    if not levels:
        errors.setdefault("levels", []).append(_("Add at least one level."))
    for number, level in enumerate(levels, start=1):
        problem = ""
        if level.kind == LevelKind.PERSON and level.person is None:
            problem = _("choose the person")
        elif level.kind == LevelKind.ROTATION and (
            level.rotation is None or level.rotation.establishment_id != establishment.pk
        ):
            problem = _("choose a rotation of this establishment")
        elif level.kind == LevelKind.GROUP and not level.people:
            problem = _("choose the people of the group")
        elif level.kind not in LevelKind.values:
            problem = _("unknown kind of level")
        elif not 0 <= level.wait_seconds <= 24 * 3600:
            problem = _("the wait must be between 0 and 86,400 seconds")
        elif not 0 <= level.repeats <= 20:
            problem = _("repeats must be between 0 and 20")
        if problem:
            errors.setdefault("levels", []).append(
                _("Level %(number)s: %(problem)s.") % {"number": number, "problem": problem}
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        policy = EscalationPolicy.objects.create(
            establishment=establishment, name=name, channels=list(dict.fromkeys(channels))
        )
        for position, level in enumerate(levels):
            row = EscalationLevel.objects.create(
                policy=policy, position=position, kind=level.kind, person=level.person, rotation=level.rotation,
                wait_seconds=level.wait_seconds, repeats=level.repeats,
            )
            if level.people:
                row.people.set(level.people)
        audit_record(
            actor=actor, action="alerting.escalation_policy_create", obj=policy, establishment=establishment,
            changes=policy_snapshot(policy),
        )
    return policy


def policy_snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "id": policy.pk, "name": policy.name, "channels": list(policy.channels),
        "levels": [
            {
                "kind": level.kind, "person": level.person_id, "rotation": level.rotation_id,
                "people": sorted(p.pk for p in level.people.all()),
                "wait_seconds": level.wait_seconds, "repeats": level.repeats,
            }
            for level in policy.levels.order_by("position", "id").prefetch_related("people")
        ],
    }


def level_wait(level: dict[str, Any]) -> timedelta:
    """A level's wait as recorded in a snapshot (in minutes before waits were seconds)."""
    if "wait_seconds" in level:
        return timedelta(seconds=int(level["wait_seconds"]))
    return timedelta(minutes=int(level.get("wait_minutes", 5)))


def policy_list(*, user: Any) -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.visible_to(user, Perm.VIEW_DIRECTORY).select_related("establishment")


def escalation_list(*, user: Any) -> QuerySet[Escalation]:
    return Escalation.objects.visible_to(user, Perm.VIEW_DIRECTORY).select_related("establishment")


def get_escalation_for_user(*, user: Any, escalation_id: int, write: bool = False) -> Escalation:
    perm = Perm.MANAGE_PEOPLE if write else Perm.VIEW_DIRECTORY
    return get_for_user(user, Escalation.objects.select_related("establishment"), perm, pk=escalation_id)


def get_policy_for_user(*, user: Any, policy_id: int, write: bool = False) -> EscalationPolicy:
    perm = Perm.MANAGE_PEOPLE if write else Perm.VIEW_DIRECTORY
    return get_for_user(user, EscalationPolicy.objects.select_related("establishment"), perm, pk=policy_id)


# Running ------------------------------------------------------------------------------------


def escalation_start(
    *, actor: Actor, policy: EscalationPolicy, title: str, message: str, is_exercise: bool = False
) -> Escalation:
    """Snapshot the policy and make the first step due now."""
    if not isinstance(actor, SystemActor):
        _check(actor, policy.establishment)
    errors: dict[str, list[str]] = {}
    title, message = (title or "").strip(), (message or "").strip()
    if not title:
        errors.setdefault("title", []).append(_("Give the alert a title."))
    if not message:
        errors.setdefault("message", []).append(_("Write the message."))
    if errors:
        raise ValidationError(errors)

    template_check(message)
    snapshot = policy_snapshot(policy)
    if not snapshot["levels"]:
        raise ValidationError(_("This policy has no level."))
    with transaction.atomic():
        escalation = Escalation.objects.create(
            establishment=policy.establishment, policy=policy, policy_snapshot=snapshot, title=title,
            message=message, is_exercise=is_exercise, next_step_due_at=timezone.now(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            actor=actor, action="alerting.escalation_start", obj=escalation, establishment=policy.establishment,
            changes={"policy": policy.pk, "title": title, "is_exercise": is_exercise},
        )
        transaction.on_commit(_wake)
    return escalation


def _wake() -> None:
    services.workers_wake()


def _targets(level: dict[str, Any], when: datetime) -> list[Person]:
    if level["kind"] == LevelKind.PERSON:
        return list(Person.objects.filter(pk=level["person"]))
    if level["kind"] == LevelKind.ROTATION:
        rotation = OnCallRotation.objects.filter(pk=level["rotation"]).first()
        person = oncall_at(rotation, when) if rotation else None
        return [person] if person else []
    return list(Person.objects.filter(pk__in=level["people"]).order_by("last_name", "first_name"))


def _acknowledged(escalation_id: int) -> Recipient | None:
    campaign_ids = EscalationStep.objects.filter(escalation_id=escalation_id).exclude(campaign=None).values("campaign_id")
    return Recipient.objects.filter(campaign_id__in=campaign_ids, acknowledged_at__isnull=False).first()


def escalation_step(*, escalation_id: int, worker_id: str, now: datetime | None = None) -> bool:
    """Take the escalation's due step, if it is still due and still ours to take.
    Returns whether this call took it."""
    now = now or timezone.now()
    with transaction.atomic():
        # As for the sends themselves (see services.no_wait_for_disk): a worker that
        # dies loses nothing by it; only a crash of the database server may forget the
        # last steps taken, which are then taken again.
        services.no_wait_for_disk()
        row = Escalation.objects.filter(
            pk=escalation_id, status=EscalationStatus.ACTIVE, next_step_due_at__lte=now
        ).select_related("establishment").first()
        if row is None:
            return False
        seq, due_at = row.step_seq, row.next_step_due_at or now
        levels = row.policy_snapshot.get("levels", [])
        mine = Escalation.objects.filter(pk=row.pk, step_seq=seq, status=EscalationStatus.ACTIVE)
        # The first step has no message anyone could have acknowledged yet.
        acked = _acknowledged(row.pk) if seq else None
        if acked is not None or row.level >= len(levels):
            status = EscalationStatus.ACKNOWLEDGED if acked is not None else EscalationStatus.EXHAUSTED
            taken = mine.update(
                status=status, step_seq=seq + 1, next_step_due_at=None, ended_at=now,
                acknowledged_by=acked.name if acked is not None else "",
            ) == 1
            if taken:
                audit_record(
                    actor=ESCALATION_WORKER, action=f"alerting.escalation_{status}", obj=row,
                    establishment=row.establishment, changes={"level": row.level, "repeat": row.repeat},
                )
            return taken
        level = levels[row.level]
        if row.repeat < int(level.get("repeats", 0)):
            next_level, next_repeat = row.level, row.repeat + 1
        else:
            next_level, next_repeat = row.level + 1, 0
        # Counted from when this step was due, not from when it was taken: every step
        # falls at the alert's start plus the waits before it, so one late step (a
        # worker outage) does not push back the ones after it.
        if mine.update(
            step_seq=seq + 1, level=next_level, repeat=next_repeat, next_step_due_at=due_at + level_wait(level),
        ) != 1:
            return False
        people = _targets(level, due_at)
        campaign = None
        if people:
            recipients: list[services.RecipientInput] = services.recipients_from_people(
                people, establishment_name=row.establishment.name
            )
            title = row.title if row.repeat == 0 else f"{row.title} ({row.repeat + 1})"
            campaign = services.campaign_create(
                actor=ESCALATION_WORKER, title=title, message_fr=row.message, message_en=row.message,
                recipients=recipients, channels=row.policy_snapshot.get("channels") or ["email"],
                establishment=row.establishment, is_exercise=row.is_exercise,
                # The worker taking this step sends the outbox right after it.
                wake_workers=False,
            )
        EscalationStep.objects.create(
            escalation=row, seq=seq, level=row.level, repeat=row.repeat, due_at=due_at, taken_at=now,
            worker=worker_id[:100], campaign=campaign, targets=[p.pk for p in people],
        )
    return True


def escalations_process(*, worker_id: str, limit: int = 200, now: datetime | None = None) -> int:
    """Take every due step; returns how many were taken."""
    now = now or timezone.now()
    due = list(
        Escalation.objects.filter(status=EscalationStatus.ACTIVE, next_step_due_at__lte=now)
        .order_by("next_step_due_at", "id").values_list("id", flat=True)[:limit]
    )
    taken = 0
    for escalation_id in due:
        try:
            taken += escalation_step(escalation_id=escalation_id, worker_id=worker_id, now=now)
        except Exception:  # one broken escalation must not stop the others
            logger.exception("escalation %s: step failed", escalation_id)
    return taken


def escalation_next_due_at() -> datetime | None:
    return (
        Escalation.objects.filter(status=EscalationStatus.ACTIVE).order_by("next_step_due_at")
        .values_list("next_step_due_at", flat=True).first()
    )


def escalation_stop_for_campaign(*, campaign_id: int, by: str) -> int:
    """An acknowledgement of one of the escalation's messages stops it."""
    escalation_ids = list(EscalationStep.objects.filter(campaign_id=campaign_id).values_list("escalation_id", flat=True))
    stopped = 0
    for escalation in Escalation.objects.filter(pk__in=escalation_ids, status=EscalationStatus.ACTIVE):
        stopped += _stop(escalation, status=str(EscalationStatus.ACKNOWLEDGED), actor=actors.recipient(by), by=by)
    return stopped


def escalation_acknowledge(*, actor: Actor, escalation: Escalation) -> bool:
    """Acknowledged in the application by a member of the crisis cell or an
    administrator of the establishment (not by read-only auditors)."""
    if not (can(actor, Perm.RUN_CRISIS, escalation.establishment)
            or can(actor, Perm.MANAGE_PEOPLE, escalation.establishment)):
        raise PermissionDenied(_("You are not allowed to acknowledge this alert."))
    return bool(_stop(escalation, status=str(EscalationStatus.ACKNOWLEDGED), actor=actor, by=str(actor)))


def escalation_cancel(*, actor: Actor, escalation: Escalation) -> bool:
    _check(actor, escalation.establishment)
    return bool(_stop(escalation, status=str(EscalationStatus.CANCELLED), actor=actor, by=""))


def _stop(escalation: Escalation, *, status: str, actor: Actor | OutsideParty, by: str) -> int:
    now = timezone.now()
    with transaction.atomic():
        count = Escalation.objects.filter(pk=escalation.pk, status=EscalationStatus.ACTIVE).update(
            status=status, next_step_due_at=None, ended_at=now, acknowledged_by=by[:200]
        )
        if count:
            audit_record(
                actor=actor, action=f"alerting.escalation_{status}", obj=escalation,
                establishment=escalation.establishment, changes={"by": by},
            )
    return count
