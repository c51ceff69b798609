"""End of crisis: the lessons-learned report (retour d'expérience, RETEX) as a PDF, with
the timeline from the logbook, key figures (time to first alert, to cell assembled, to
each notification), the decisions and the improvement actions. Improvement actions have
an owner and a due date and appear in the gaps of the establishment's plan while open."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.crisis.chain import logbook_verify, nfc
from planblanc.crisis.exports import pdf_stylesheet
from planblanc.crisis.models import (
    Crisis,
    CrisisStatus,
    Decision,
    EntryKind,
    ImprovementAction,
    ImprovementStatus,
    LogbookEntry,
)
from planblanc.crisis.notifications import export_record, notification_clocks
from planblanc.crisis.services import logbook_append
from planblanc.directory.models import Person
from planblanc.tenancy import user_label


@dataclass(frozen=True)
class Figure:
    label: str
    at: datetime.datetime | None
    delay: datetime.timedelta | None

    @property
    def shown(self) -> str:
        if self.delay is None:
            return "—"
        minutes = max(0, int(self.delay.total_seconds() // 60))
        return f"{minutes // 60} h {minutes % 60:02d} min"


def _figure(label: str, start: datetime.datetime, at: datetime.datetime | None) -> Figure:
    return Figure(label=label, at=at, delay=(at - start) if at is not None else None)


def crisis_figures(*, crisis: Crisis) -> list[Figure]:
    """Time to first alert (first delivery sent to the cell), to cell assembled (first
    acknowledgement of the alert), to each notification sent."""
    from planblanc.alerting.models import Delivery, Recipient

    start = crisis.declared_at
    first_alert = first_ack = None
    if crisis.campaign_id:
        first_alert = Delivery.objects.filter(campaign_id=crisis.campaign_id).aggregate(at=Min("sent_at"))["at"]
        first_ack = Recipient.objects.filter(campaign_id=crisis.campaign_id).aggregate(
            at=Min("acknowledged_at"))["at"]
    figures = [
        _figure(_("Time to first alert"), start, first_alert),
        _figure(_("Time to cell assembled (first acknowledgement)"), start, first_ack),
    ]
    for clock in notification_clocks(crisis=crisis):
        if clock.required or clock.is_sent:
            figures.append(_figure(_("Time to notification: %(what)s") % {"what": clock.label}, start,
                                   clock.sent_at))
    if crisis.closed_at:
        figures.append(_figure(_("Duration of the crisis"), start, crisis.closed_at))
    return figures


def improvement_actions_of(*, crisis: Crisis) -> QuerySet[ImprovementAction]:
    return ImprovementAction.objects.filter(crisis=crisis).select_related("owner").order_by("due_date", "id")


def improvement_action_create(
    *, actor: Actor, crisis: Crisis, title: str, due_date: datetime.date | None, owner: Person | None = None,
    owner_label: str = "", from_exercise_report: bool = False,
) -> ImprovementAction:
    """An improvement action with its owner and due date, during or after the crisis.
    Written to the logbook while the crisis runs (its logbook closes at the end).

    The one writer of improvement actions: an exercise's report adds them to its
    exercise crisis (`from_exercise_report`), by the animators who run the exercise,
    without a logbook entry (the players' logbook is the exercise's record)."""
    if from_exercise_report:
        if not crisis.is_exercise:
            raise ValidationError(_("Only an exercise crisis ends with its exercise."))
        rights.require_prepare_exercises(actor, crisis.establishment)
    else:
        rights.require_run_crisis(actor, crisis)
    title = nfc(title or "").strip()
    errors: dict[str, list[Any]] = {}
    if not title:
        errors["title"] = [_("Write the improvement action.")]
    elif len(title) > 500:
        errors["title"] = [_("At most %(max)d characters.") % {"max": 500}]
    if due_date is None:
        errors["due_date"] = [_("Give a due date.")]
    if owner is not None and not owner.memberships.filter(establishment=crisis.establishment).exists():
        errors["owner"] = [_("The owner must be a person of this establishment.")]
    label = (owner.full_name if owner is not None else nfc(owner_label or "").strip())[:200]
    if not label and "owner" not in errors:
        errors["owner"] = [_("Name the owner of the action.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        action = ImprovementAction.objects.create(
            crisis=crisis, title=title, owner=owner, owner_label=label, due_date=due_date,
            created_by_label=user_label(actor)[:200])
        if crisis.status == CrisisStatus.ACTIVE and not from_exercise_report:
            logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.ACTION),
                           text=_("Improvement action: %(title)s (owner %(owner)s, due %(due)s)") % {
                               "title": title, "owner": label, "due": due_date.isoformat()})  # type: ignore[union-attr]
        audit_record(actor=actor,
                     action="exercise.improvement_action_add" if from_exercise_report
                     else "crisis.improvement_action_create",
                     obj=action, establishment=crisis.establishment,
                     changes={"title": title, "owner": label, "due_date": str(due_date)})
    return action


def improvement_action_set_status(*, actor: Actor, action: ImprovementAction, status: str) -> ImprovementAction:
    rights.require_run_crisis(actor, action.crisis)
    if status not in ImprovementStatus.values:
        raise ValidationError({"status": [_("Unknown status.")]})
    with transaction.atomic():
        before = action.status
        action.status = status
        action.done_at = timezone.now() if status == ImprovementStatus.DONE else None
        action.save(update_fields=["status", "done_at"])
        audit_record(actor=actor, action="crisis.improvement_action_status", obj=action,
                     establishment=action.crisis.establishment, changes={"status": [before, status]})
    return action


def report_context(*, crisis: Crisis) -> dict[str, Any]:
    return {
        "crisis": crisis,
        "figures": crisis_figures(crisis=crisis),
        "timeline": list(LogbookEntry.objects.filter(crisis=crisis).order_by("seq")),
        "decisions": list(Decision.objects.filter(crisis=crisis).order_by("decided_at", "id")),
        "actions": list(improvement_actions_of(crisis=crisis)),
        "clocks": notification_clocks(crisis=crisis),
        "verified": logbook_verify(crisis).ok,
        "head_hash": crisis.head_hash,
    }


def report_pdf(*, actor: Actor, crisis: Crisis) -> bytes:
    """The lessons-learned report, A4, French, the logbook head hash on every page. The
    export is logged (audit; logbook while the crisis runs)."""
    from planblanc.core.localtime import establishment_time
    from planblanc.core.pdf import render_pdf

    with translation.override("fr"), establishment_time(crisis.establishment):
        html = render_to_string("crisis/report/pdf.html", {
            **report_context(crisis=crisis), "printed_by": user_label(actor), "printed_at": timezone.localtime()})
    content = render_pdf(html=html, css=pdf_stylesheet())
    export_record(actor=actor, crisis=crisis, what=_("lessons-learned report"), fmt="pdf", content=content,
                  action="crisis.report_export")
    return content
