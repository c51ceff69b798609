"""Regulatory notifications of a crisis, each with its clock from the declaration:

- the health-sector incident report to the ARS and CERT Santé (signalement des incidents
  de sécurité des systèmes d'information, required "sans délai"), due when the D1111-16-2
  checklist ticks one of its five categories (items 4 and 5 make it "significant"), sent
  on the national portal or, when it is down, to the ARS by any means with the same form,
  then followed by follow-up reports and an end-of-incident update,
- the personal data breach notification to the CNIL within 72 hours when personal data
  is involved (GDPR article 33; an initial then complementary filings),
- the NIS incident notification to ANSSI, for essential-services operators only, in the
  three NIS 2 art. 23 stages (early warning 24 h, notification 72 h, final report one
  month after the notification), per regime (essential or important entity),
- the complaint to the police or gendarmerie (dépôt de plainte).

Which are required is computed from the crisis (its type, the damage assessment, the
establishment's OES flag) and shown with the reason. The form is pre-filled from the
crisis data; every save, export and sending is written to the logbook and the audit."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.crisis import regulatory
from planblanc.crisis.chain import nfc, utc_iso
from planblanc.crisis.exports import pdf_stylesheet
from planblanc.crisis.models import (
    DAMAGE_QUESTIONS,
    Answer,
    Crisis,
    CrisisKind,
    CrisisStatus,
    DamageAssessment,
    DepartmentState,
    DepartmentStatus,
    EntryKind,
    NotificationKind,
    RegulatoryNotification,
    SystemState,
    SystemStatus,
)
from planblanc.crisis.services import logbook_append
from planblanc.directory.models import Function, Membership
from planblanc.tenancy import user_label

# Time allowed for the first filing, from the declaration, as the data file
# (crisis/data/regulatory/clocks.yaml) sets it with its sources: the CNIL's 72 hours (GDPR
# art. 33), a 2-hour target for the "sans délai" health-sector report, the 24 hours of
# the NIS 2 early warning, 72 hours for a complaint (no legal deadline).
DELAYS: dict[str, datetime.timedelta] = regulatory.initial_delays()
# Which notifications take further filings: the CNIL's complementary ones, the health
# report's follow-ups and end-of-incident update, the NIS 2 stages.
MULTI_FILING = {"cnil", "ars_cert_sante", "anssi"}
RECIPIENTS: dict[str, str] = {
    "ars_cert_sante": "ARS / CERT Santé (portail de signalement)",
    "cnil": "CNIL (notifications.cnil.fr)",
    "anssi": "ANSSI (CERT-FR)",
    "complaint": "Police / Gendarmerie",
}
PERSONAL_DATA_KINDS = {CrisisKind.RANSOMWARE, CrisisKind.DATA_THEFT, CrisisKind.ACCOUNT_COMPROMISE}
MAX_FIELD = 10_000

# The fields of each form: name → (label, multi-line). The identity of the structure and
# of the reporter come first in every form.
_IDENTITY: dict[str, tuple[Promise, bool]] = {
    "establishment": (gettext_lazy("Establishment"), False),
    "finess": (gettext_lazy("FINESS number"), False),
    "address": (gettext_lazy("Address"), False),
    "reporter_name": (gettext_lazy("Reporter"), False),
    "reporter_function": (gettext_lazy("Reporter's function"), False),
    "reporter_email": (gettext_lazy("Reporter's email"), False),
    "reporter_phone": (gettext_lazy("Reporter's phone"), False),
    "discovered_at": (gettext_lazy("Discovery date"), False),
    "incident_type": (gettext_lazy("Type of incident"), False),
}
FIELDS: dict[str, dict[str, tuple[Promise, bool]]] = {
    "ars_cert_sante": {
        **_IDENTITY,
        "filing_type": (gettext_lazy("Report (initial, follow-up or end of incident)"), False),
        "description": (gettext_lazy("Description of the incident"), True),
        "scope": (gettext_lazy("Scope"), True),
        "affected_systems": (gettext_lazy("Systems affected"), True),
        "affected_data": (gettext_lazy("Data affected"), True),
        "handling_state": (gettext_lazy("State of handling"), True),
        "impact_data": (gettext_lazy("Impact on data"), True),
        "impact_people": (gettext_lazy("Impact on people"), True),
        "impact_systems": (gettext_lazy("Impact on systems"), True),
        "impact_structure": (gettext_lazy("Impact on the structure"), True),
        "causes": (gettext_lazy("Causes, if known"), True),
        "impact_care": (gettext_lazy("Impact on care"), True),
        "degraded_mode": (gettext_lazy("Degraded mode (departments)"), True),
    },
    "cnil": {
        **_IDENTITY,
        "filing_type": (gettext_lazy("Filing (initial or complementary)"), False),
        "breach_nature": (gettext_lazy("Nature of the breach (confidentiality, integrity, availability)"), True),
        "people_categories": (gettext_lazy("Categories of people concerned"), True),
        "people_count": (gettext_lazy("Approximate number of people"), False),
        "record_categories": (gettext_lazy("Categories of personal data records"), True),
        "record_count": (gettext_lazy("Approximate number of records"), False),
        "dpo_contact": (gettext_lazy("Data protection officer (DPO) contact"), False),
        "likely_consequences": (gettext_lazy("Likely consequences"), True),
        "measures_taken": (gettext_lazy("Measures taken or proposed"), True),
        "affected_systems": (gettext_lazy("Systems affected"), True),
    },
    "anssi": {
        **_IDENTITY,
        "essential_service": (gettext_lazy("Essential service affected"), False),
        "description": (gettext_lazy("Description of the incident"), True),
        "affected_systems": (gettext_lazy("Systems affected"), True),
        "impact_service": (gettext_lazy("Impact on the continuity of the essential service"), True),
        "cross_border": (gettext_lazy("Cross-border impact"), False),
        "handling_state": (gettext_lazy("State of handling"), True),
    },
    "complaint": {
        **_IDENTITY,
        "description": (gettext_lazy("Facts"), True),
        "affected_systems": (gettext_lazy("Systems affected"), True),
        "damage": (gettext_lazy("Damage suffered"), True),
        "evidence": (gettext_lazy("Evidence kept (logbook head hash, logs, images)"), True),
        "ransom_demand": (gettext_lazy("Ransom demand (contact, amount)"), True),
    },
}


# Which notifications are required -------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    kind: str
    required: bool
    reason: str


def _damage(crisis: Crisis) -> DamageAssessment | None:
    return DamageAssessment.objects.filter(crisis=crisis).first()


def personal_data_involved(crisis: Crisis, damage: DamageAssessment | None = None) -> tuple[bool, str]:
    """Personal data is involved when signs of data theft are seen, or when the type of
    crisis (ransomware, data theft, account compromise) reaches the patient records: a
    loss of availability of health data is a breach under the GDPR too."""
    damage = damage if damage is not None else _damage(crisis)
    if damage is not None and damage.data_theft_signs in (Answer.YES, Answer.PARTLY):
        return True, _("signs of data theft in the damage assessment")
    if crisis.kind in PERSONAL_DATA_KINDS:
        return True, _("the type of crisis (%(kind)s) reaches personal health data") % {
            "kind": crisis.get_kind_display()}
    return False, _("no personal data involved so far (type of crisis and damage assessment)")


def _health_requirement(assessment: regulatory.HealthAssessment) -> Requirement:
    if not assessment.assessed:
        return Requirement("ars_cert_sante", True, _(
            "due without delay unless the D1111-16-2 checklist finds none of its five categories: fill it in"))
    if not assessment.due:
        return Requirement("ars_cert_sante", False, _("none of the five D1111-16-2 categories applies"))
    items = ", ".join(assessment.ticked)
    if assessment.significant:
        return Requirement("ars_cert_sante", True, _(
            "significant incident: D1111-16-2 items %(items)s (4 or 5 make it significant)") % {"items": items})
    return Requirement("ars_cert_sante", True, _("serious incident: D1111-16-2 items %(items)s") % {"items": items})


def notification_requirements(
    *, crisis: Crisis, damage: DamageAssessment | None = None,
    health: regulatory.HealthAssessment | None = None,
) -> list[Requirement]:
    involved, why = personal_data_involved(crisis, damage)
    oes = crisis.establishment.is_essential_operator
    malicious = crisis.kind != CrisisKind.PROVIDER_OUTAGE
    if health is None:
        current = notification_current(crisis=crisis, kind="ars_cert_sante")
        health = regulatory.health_assessment(current.data if current is not None else None)
    return [
        _health_requirement(health),
        Requirement("cnil", involved, why),
        Requirement("anssi", oes,
                    _("the establishment is an essential-services operator (OES)") if oes
                    else _("only for essential-services operators (OES)")),
        Requirement("complaint", malicious,
                    _("a malicious act is a criminal offence") if malicious
                    else _("a provider outage is not a malicious act")),
    ]


# Clocks -------------------------------------------------------------------------------------


@dataclass
class Clock:
    kind: str
    label: str
    required: bool
    reason: str
    due_at: datetime.datetime
    notification: RegulatoryNotification | None
    filings: list[RegulatoryNotification]
    now: datetime.datetime
    # NIS 2: the three stages with their due times; `due_at` is the next open stage's.
    stages: list[regulatory.Stage] = field(default_factory=list)
    regime: str = ""

    @property
    def sent_at(self) -> datetime.datetime | None:
        first = self.filings[0] if self.filings else None
        return first.sent_at if first is not None else None

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

    # NIS 2: the stage keys already sent.
    done_stages: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        """Something is still to send: the first filing, or a NIS 2 stage."""
        if self.stages:
            return self.next_stage is not None
        return not self.is_sent

    @property
    def next_stage(self) -> regulatory.Stage | None:
        return next((s for s in self.stages if s.key not in self.done_stages), None)

    @property
    def regime_label(self) -> str:
        return regulatory.nis2_regime_label(self.regime) if self.regime else ""

    @property
    def overdue(self) -> bool:
        return self.required and self.pending and self.now > self.due_at

    @property
    def seconds_left(self) -> int:
        return int((self.due_at - self.now).total_seconds())

    @property
    def time_left(self) -> str:
        """'5 h 07 min' left, or late by as much (the sign is in `overdue`)."""
        seconds = abs(self.seconds_left)
        hours, minutes = seconds // 3600, (seconds % 3600) // 60
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _health(filings: dict[str, list[RegulatoryNotification]]) -> regulatory.HealthAssessment:
    rows = filings.get("ars_cert_sante") or []
    return regulatory.health_assessment(rows[-1].data if rows else None)


def _clock(crisis: Crisis, requirement: Requirement, rows: list[RegulatoryNotification],
           now: datetime.datetime) -> Clock:
    """The clock of one notification. NIS 2 counts its stages from the declaration (the
    moment the establishment became aware) and the final report from the sending of the
    incident notification (filing 2)."""
    kind = NotificationKind(requirement.kind)
    stages: list[regulatory.Stage] = []
    regime = ""
    due_at = crisis.declared_at + DELAYS[kind]
    done: tuple[str, ...] = ()
    if kind == NotificationKind.ANSSI:
        regime = regulatory.nis2_regime(essential_operator=crisis.establishment.is_essential_operator)
        stages, keyed = nis2_plan(crisis, rows, regime)
        done = tuple(key for row, key in keyed if row.is_sent)
        following = next((s for s in stages if s.key not in done), None)
        due_at = (following or stages[-1]).due_at
    return Clock(
        kind=kind, label=str(kind.label), required=requirement.required, reason=requirement.reason,
        due_at=due_at, notification=rows[-1] if rows else None, filings=rows, now=now, stages=stages,
        regime=regime, done_stages=done,
    )


def nis2_plan(crisis: Crisis, rows: list[RegulatoryNotification], regime: str,
              ) -> tuple[list[regulatory.Stage], list[tuple[RegulatoryNotification, str]]]:
    """The NIS 2 stages of a crisis and the stage key of each filing. Filings opened as
    intermediate reports (23(4)(c)) get their own stage after the incident notification;
    the others take the base stages in order. The incident is ongoing at final-report
    time while the crisis is not ended, or ended after that time (23(4)(e))."""
    base_rows = [row for row in rows if row.data.get("stage") != "intermediate_report"]
    notified = base_rows[1].sent_at if len(base_rows) > 1 else None
    plain = regulatory.nis2_stages(regime=regime, aware_at=crisis.declared_at, notification_sent_at=notified)
    ongoing = crisis.closed_at is None or crisis.closed_at > plain[-1].due_at
    base = regulatory.nis2_stages(regime=regime, aware_at=crisis.declared_at, notification_sent_at=notified,
                                  ongoing=ongoing, handled_at=crisis.closed_at)
    keyed: list[tuple[RegulatoryNotification, str]] = []
    intermediate: list[regulatory.Stage] = []
    position = 0
    for row in rows:
        if row.data.get("stage") == "intermediate_report":
            due = parse_datetime(str(row.data.get("requested_due") or "")) if row.data.get("requested_due") else None
            stage = regulatory.nis2_intermediate_stage(regime=regime, requested_at=row.created_at, due_at=due,
                                                       key=f"intermediate_report:{row.filing}")
            intermediate.append(stage)
            keyed.append((row, stage.key))
        else:
            keyed.append((row, base[min(position, len(base) - 1)].key))
            position += 1
    return [*base[:2], *intermediate, *base[2:]], keyed


def notification_clocks(*, crisis: Crisis, now: datetime.datetime | None = None) -> list[Clock]:
    """Every notification of the crisis with its clock, in three queries."""
    now = now or timezone.now()
    filings: dict[str, list[RegulatoryNotification]] = {}
    for row in RegulatoryNotification.objects.filter(crisis=crisis).order_by("kind", "filing"):
        filings.setdefault(row.kind, []).append(row)
    return [_clock(crisis, requirement, filings.get(requirement.kind, []), now)
            for requirement in notification_requirements(crisis=crisis, health=_health(filings))]


# Pre-filled form ----------------------------------------------------------------------------


def _reporter(crisis: Crisis, actor: Actor) -> dict[str, str]:
    person = getattr(actor, "person", None) if getattr(actor, "is_authenticated", False) else None
    if person is None:
        return {"reporter_name": user_label(actor) if hasattr(actor, "pk") else crisis.declared_by_label,
                "reporter_function": "", "reporter_email": getattr(actor, "email", "") or "", "reporter_phone": ""}
    functions = Membership.objects.filter(person=person, establishment=crisis.establishment).values_list(
        "function", flat=True)
    return {
        "reporter_name": person.full_name,
        "reporter_function": ", ".join(str(Function(f).label) for f in functions if f in Function.values),
        "reporter_email": person.email or "",
        "reporter_phone": str(person.mobile_phone or person.landline_phone or ""),
    }


def notification_prefill(*, crisis: Crisis, kind: str, actor: Actor | None = None) -> dict[str, str]:
    """The form's values from the crisis data: identity and FINESS, reporter, discovery
    date, type, scope, affected systems from the status board, damage assessment answers,
    departments in degraded mode."""
    establishment = crisis.establishment
    damage = _damage(crisis)
    systems = [s for s in SystemStatus.objects.filter(crisis=crisis) if s.status != SystemState.UP]
    departments = [d for d in DepartmentStatus.objects.filter(crisis=crisis) if d.status != DepartmentState.NORMAL]
    system_lines = "\n".join(
        f"- {s.name}: {s.get_status_display()}" + (f" ({s.note})" if s.note else "") for s in systems)
    if damage is not None and damage.affected_systems:
        system_lines = (system_lines + "\n" + damage.affected_systems).strip()
    degraded = "\n".join(
        f"- {d.name}: {d.get_status_display()}" + (f" ({d.note})" if d.note else "") for d in departments
    ) or _("No department in degraded mode.")
    answers = []
    if damage is not None:
        for name, (label, answer_kind) in DAMAGE_QUESTIONS.items():
            value = getattr(damage, name)
            shown = Answer(value).label if answer_kind == "answer" else value
            if shown:
                answers.append(f"- {label}: {shown}")
    assessment = "\n".join(answers)
    involved, _why = personal_data_involved(crisis, damage)
    dpo = Membership.objects.filter(establishment=establishment, function=Function.DPO).select_related(
        "person").order_by("id").first()
    address = " ".join(p for p in [establishment.address, establishment.postal_code, establishment.city] if p)
    data: dict[str, str] = {
        "establishment": establishment.name,
        "finess": str(establishment.finess),
        "address": address,
        **_reporter(crisis, actor if actor is not None else crisis.declared_by),
        "discovered_at": timezone.localtime(crisis.declared_at).strftime("%d/%m/%Y %H:%M"),
        "incident_type": str(crisis.get_kind_display()),
        "description": crisis.first_facts,
        "scope": (damage.encryption_scope if damage is not None else "") or "",
        "affected_systems": system_lines,
        "affected_data": _("Personal health data (patient records)") if involved else "",
        "handling_state": _("Crisis cell active since %(when)s; severity %(severity)s.") % {
            "when": timezone.localtime(crisis.declared_at).strftime("%d/%m/%Y %H:%M"),
            "severity": crisis.get_severity_display()},
        "impact_data": assessment,
        "impact_people": (damage.patients_impacted if damage is not None else "") or "",
        "impact_systems": system_lines,
        "impact_structure": degraded,
        "causes": "",
        "impact_care": (damage.patients_impacted if damage is not None else "") or "",
        "degraded_mode": degraded,
        "filing_type": _("Initial"),
        "breach_nature": _("Availability") + (", " + _("confidentiality") if damage is not None
                                              and damage.data_theft_signs in (Answer.YES, Answer.PARTLY) else ""),
        "people_categories": _("Patients; staff") if involved else "",
        "people_count": "",
        "record_categories": _("Identity, health data") if involved else "",
        "record_count": "",
        "dpo_contact": (f"{dpo.person.full_name} <{dpo.person.email}>".replace(" <>", "") if dpo else ""),
        "likely_consequences": _("Delays in care; disclosure of health data if stolen.") if involved else "",
        "measures_taken": "",
        "essential_service": _("Health care (%(name)s)") % {"name": establishment.name},
        "impact_service": degraded,
        "cross_border": _("None known"),
        "damage": assessment,
        "evidence": _("Logbook head hash: %(hash)s") % {"hash": crisis.head_hash},
        "ransom_demand": "",
    }
    return {name: data.get(name, "") for name in FIELDS[NotificationKind(kind)]}


def notification_current(*, crisis: Crisis, kind: str) -> RegulatoryNotification | None:
    return RegulatoryNotification.objects.filter(crisis=crisis, kind=kind).order_by("-filing").first()


def notification_form_data(*, crisis: Crisis, kind: str, actor: Actor | None = None) -> dict[str, str]:
    """What the form shows: the saved draft over the pre-filled values."""
    current = notification_current(crisis=crisis, kind=kind)
    data = notification_prefill(crisis=crisis, kind=kind, actor=actor)
    if current is not None:
        data.update({k: v for k, v in current.data.items() if k in data})
    return data


# Writes -----------------------------------------------------------------------------------


def _kind(kind: str) -> NotificationKind:
    if kind not in NotificationKind.values:
        raise ValidationError({"kind": [_("Unknown notification.")]})
    return NotificationKind(kind)


def _clean(kind: NotificationKind, data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, list[Any]] = {}
    clean: dict[str, str] = {}
    for name in FIELDS[kind]:
        value = nfc(str(data.get(name) or "")).strip()
        if len(value) > MAX_FIELD:
            errors[name] = [_("At most %(max)d characters.") % {"max": MAX_FIELD}]
        clean[name] = value
    for name in ("establishment", "finess"):
        if not clean[name]:
            errors[name] = [_("The identification of the structure is required.")]
    if kind == NotificationKind.ARS_CERT_SANTE:
        raw = data.get("categories")
        if raw is None:
            raw = [c.key for c in regulatory.health_categories() if data.get(f"category_{c.key}")]
        clean["categories"] = ",".join(regulatory.parse_categories(raw))
        clean["categories_assessed"] = "yes" if data.get("categories_assessed") in ("yes", "on", "1", True) else ""
        channel = str(data.get("channel") or "portal")
        if channel not in {key for key, _label, _url in regulatory.health_channels()}:
            errors["channel"] = [_("Choose how the report is sent: the portal, or the ARS when it is down.")]
        clean["channel"] = channel
    if not clean["reporter_name"]:
        errors["reporter_name"] = [_("Name the reporter.")]
    if errors:
        raise ValidationError(errors)
    return clean


def notification_save(*, actor: Actor, crisis: Crisis, kind: str, data: dict[str, Any]) -> RegulatoryNotification:
    """Save the form of the current filing. A sent filing is not changed: the CNIL takes
    a complementary filing (notification_complement), the others are done."""
    kind = _kind(kind)
    rights.require_run_crisis(actor, crisis)
    clean = _clean(kind, data)
    with transaction.atomic():
        current = (RegulatoryNotification.objects.select_for_update().filter(crisis=crisis, kind=kind)
                   .order_by("-filing").first())
        if current is not None and current.is_sent:
            raise ValidationError(_("This notification was sent: it can no longer be changed."))
        if current is None:
            current = RegulatoryNotification(crisis=crisis, kind=kind, filing=1)
        if current.data.get("stage"):
            clean["stage"] = current.data["stage"]
        current.data = clean
        current.updated_at = timezone.now()
        current.updated_by_label = user_label(actor)[:200]
        current.save()
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.COMMUNICATION),
                       text=_("Notification prepared: %(what)s (filing %(filing)d).") % {
                           "what": kind.label, "filing": current.filing})
        audit_record(actor=actor, action="crisis.notification_save", obj=current,
                     establishment=crisis.establishment, changes={"kind": kind, "filing": current.filing})
    return current


def notification_complement(
    *, actor: Actor, crisis: Crisis, kind: str, stage: str = "follow_up",
    requested_due: datetime.datetime | None = None,
) -> RegulatoryNotification:
    """Open the next filing once the previous one is sent: a complementary filing to the
    CNIL; a follow-up report or the end-of-incident update of the health-sector report;
    the next NIS 2 stage (incident notification, then the final report, or a progress
    report while the incident is ongoing), or a NIS 2 intermediate report asked by the
    authority (`stage="intermediate_report"`, due by `requested_due`)."""
    kind = _kind(kind)
    rights.require_run_crisis(actor, crisis)
    if kind not in MULTI_FILING:
        raise ValidationError(_("This notification takes a single filing."))
    with transaction.atomic():
        current = (RegulatoryNotification.objects.select_for_update().filter(crisis=crisis, kind=kind)
                   .order_by("-filing").first())
        if current is None or not current.is_sent:
            raise ValidationError(_("Send the initial filing before a complementary one."))
        data = dict(current.data)
        if kind == NotificationKind.ARS_CERT_SANTE:
            stages = regulatory.health_stages()
            if stage not in ("follow_up", "end_of_incident"):
                raise ValidationError({"stage": [_("Choose a follow-up report or the end-of-incident update.")]})
            if current.data.get("stage") == "end_of_incident":
                raise ValidationError(_("The end-of-incident update was sent: the report is closed."))
            data["stage"] = stage
            data["filing_type"] = f"{stages[stage]} ({current.reference})"
        elif kind == NotificationKind.ANSSI:
            regime = regulatory.nis2_regime(essential_operator=crisis.establishment.is_essential_operator)
            rows = list(RegulatoryNotification.objects.filter(crisis=crisis, kind=kind).order_by("filing"))
            plan, keyed = nis2_plan(crisis, rows, regime)
            done = {key for _row, key in keyed}
            following = next((s for s in plan if s.key not in done), None)
            if following is None:
                raise ValidationError(_("The final report was sent: the NIS 2 notification is complete."))
            if stage == "intermediate_report":
                if "notification" not in done:
                    raise ValidationError(_("An intermediate report follows the incident notification."))
                data["stage"] = "intermediate_report"
                data["requested_due"] = str(requested_due.isoformat()) if requested_due else ""
                stage_label = regulatory.nis2_intermediate_stage(regime=regime, requested_at=timezone.now()).label
            else:
                data["stage"] = following.key
                data.pop("requested_due", None)
                stage_label = following.label
            data["filing_type"] = f"{stage_label} ({current.reference})"
        else:
            data["filing_type"] = _("Complementary (to reference %(ref)s)") % {"ref": current.reference}
        filing = RegulatoryNotification.objects.create(
            crisis=crisis, kind=kind, filing=current.filing + 1, data=data,
            updated_by_label=user_label(actor)[:200])
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.COMMUNICATION),
                       text=_("Complementary filing opened: %(what)s (filing %(filing)d).") % {
                           "what": NotificationKind(kind).label, "filing": filing.filing})
        audit_record(actor=actor, action="crisis.notification_complement", obj=filing,
                     establishment=crisis.establishment, changes={"filing": filing.filing})
    return filing


def notification_mark_sent(
    *, actor: Actor, crisis: Crisis, kind: str, reference: str, sent_at: datetime.datetime | None = None,
) -> RegulatoryNotification:
    """Mark the current filing sent with the reference given by the authority (the
    receipt number, the complaint's number). No reference: refused."""
    kind = _kind(kind)
    rights.require_run_crisis(actor, crisis)
    reference = nfc(reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [
            _("Give the reference received from the authority (receipt or file number) to mark it sent.")]})
    if len(reference) > 200:
        raise ValidationError({"reference": [_("At most %(max)d characters.") % {"max": 200}]})
    moment = sent_at or timezone.now()
    if moment > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"sent_at": [_("A notification cannot be sent in the future.")]})
    if moment < crisis.declared_at - datetime.timedelta(days=1):
        raise ValidationError({"sent_at": [_("The sending date is before the declaration of the crisis.")]})
    with transaction.atomic():
        current = (RegulatoryNotification.objects.select_for_update().filter(crisis=crisis, kind=kind)
                   .order_by("-filing").first())
        if current is not None and current.is_sent:
            raise ValidationError(_("This notification is already marked sent (reference %(ref)s).") % {
                "ref": current.reference})
        if current is None:
            current = RegulatoryNotification(
                crisis=crisis, kind=kind, filing=1,
                data=notification_prefill(crisis=crisis, kind=kind, actor=actor))
        current.sent_at, current.reference = moment, reference
        current.sent_by_label = user_label(actor)[:200]
        current.save()
        rows = list(RegulatoryNotification.objects.filter(crisis=crisis, kind=kind).order_by("filing"))
        requirement = Requirement(kind, True, "")
        due = _clock(crisis, requirement, [r for r in rows if r.filing < current.filing], moment).due_at
        late = moment - due
        text = _("Notification sent: %(what)s (filing %(filing)d), reference %(ref)s.") % {
            "what": NotificationKind(kind).label, "filing": current.filing, "ref": reference}
        if (current.filing == 1 or kind == NotificationKind.ANSSI) and late.total_seconds() > 0:
            text += " " + _("Late by %(minutes)d min.") % {"minutes": late.total_seconds() // 60}
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.COMMUNICATION), text=text)
        audit_record(actor=actor, action="crisis.notification_sent", obj=current,
                     establishment=crisis.establishment,
                     changes={"kind": kind, "filing": current.filing, "reference": reference})
    return current


# Exports ----------------------------------------------------------------------------------


def notification_document(*, crisis: Crisis, kind: str, actor: Actor | None = None) -> dict[str, Any]:
    """The notification as data: what the JSON export holds and the PDF prints."""
    kind = _kind(kind)
    current = notification_current(crisis=crisis, kind=kind)
    data = notification_form_data(crisis=crisis, kind=kind, actor=actor)
    requirement = next(r for r in notification_requirements(crisis=crisis) if r.kind == kind)
    clock = next(c for c in notification_clocks(crisis=crisis) if c.kind == kind)
    extra: dict[str, Any] = {}
    recipient = RECIPIENTS[kind]
    if kind == NotificationKind.ARS_CERT_SANTE:
        saved = current.data if current is not None else {}
        assessment = regulatory.health_assessment(saved)
        channel = saved.get("channel") or "portal"
        recipient = next((f"{text} {url}".strip() for key, text, url in regulatory.health_channels()
                          if key == channel), recipient)
        extra = {"checklist": [{"item": c.key, "label": c.label, "significant": c.significant,
                                "ticked": c.key in assessment.ticked} for c in regulatory.health_categories()],
                 "checklist_filled": assessment.assessed, "significant": assessment.significant,
                 "channel": channel}
    if clock.stages:
        extra["regime"] = clock.regime
        extra["stages"] = [{"stage": s.key, "label": s.label, "due_at": utc_iso(s.due_at)} for s in clock.stages]
    return {
        **extra,
        "notification": kind.value,
        "title": str(kind.label),
        "recipient": recipient,
        "crisis": crisis.pk,
        "is_exercise": crisis.is_exercise,
        "required": requirement.required,
        "required_reason": requirement.reason,
        "declared_at": utc_iso(crisis.declared_at),
        "due_at": utc_iso(clock.due_at),
        "filing": current.filing if current else 1,
        "sent_at": utc_iso(current.sent_at) if current and current.sent_at else None,
        "reference": current.reference if current else "",
        "fields": [{"name": name, "label": str(label), "value": data.get(name, "")}
                   for name, (label, _multi) in FIELDS[kind].items()],
        "values": data,
        "logbook_head_hash": crisis.head_hash,
        "exported_at": utc_iso(timezone.now()),
    }


def notification_pdf(document: dict[str, Any], crisis: Crisis) -> bytes:
    from planblanc.core.localtime import establishment_time, fr_datetime
    from planblanc.core.pdf import render_pdf

    with translation.override("fr"), establishment_time(crisis.establishment) as zone:
        due = datetime.datetime.fromisoformat(document["due_at"])
        sent = datetime.datetime.fromisoformat(document["sent_at"]) if document.get("sent_at") else None
        html = render_to_string("crisis/notifications/pdf.html", {
            "doc": document, "crisis": crisis, "printed_at": timezone.localtime(), "zone": str(zone),
            "due_local": fr_datetime(due, zone), "sent_local": fr_datetime(sent, zone),
        })
    return render_pdf(html=html, css=pdf_stylesheet())


EXPORT_TYPES = {"pdf": "application/pdf", "json": "application/json"}


def notification_export(*, actor: Actor, crisis: Crisis, kind: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name); the export is logged."""
    if fmt not in EXPORT_TYPES:
        raise ValidationError(_("Unknown export format."))
    with translation.override("fr"):
        document = notification_document(crisis=crisis, kind=kind, actor=actor)
    if fmt == "json":
        content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    else:
        content = notification_pdf(document, crisis)
    export_record(actor=actor, crisis=crisis, what=str(NotificationKind(kind).label), fmt=fmt, content=content,
                  action=f"crisis.notification_export.{fmt}")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return content, EXPORT_TYPES[fmt], f"notification-{kind}-crise-{crisis.pk}-{stamp}.{fmt}"


def export_record(*, actor: Actor, crisis: Crisis, what: str, fmt: str, content: bytes, action: str) -> None:
    """An export is audited, and written to the logbook while the crisis is running and
    the actor writes in it (a read-only regional officer's export is audited only)."""
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        if crisis.status == CrisisStatus.ACTIVE and rights.may_run_crisis(actor, crisis):
            logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.INFORMATION),
                           text=_("Exported: %(what)s (%(fmt)s, SHA-256 %(sha)s).") % {
                               "what": what, "fmt": fmt.upper(), "sha": digest})
        audit_record(actor=actor, action=action, obj=crisis, establishment=crisis.establishment,
                     changes={"sha256": digest, "what": what})


@dataclass
class NotificationSummary:
    """For the regional view: how far a crisis is with its regulatory notifications."""

    required: int
    sent: int
    overdue: int
    next_due_at: datetime.datetime | None


def notification_summaries(
    *, crises: Sequence[Crisis], now: datetime.datetime | None = None
) -> dict[int, NotificationSummary]:
    """Clocks of many crises in two queries (notifications, damage assessments), keyed
    by crisis id."""
    now = now or timezone.now()
    ids = [crisis.pk for crisis in crises]
    filings: dict[tuple[int, str], list[RegulatoryNotification]] = {}
    for row in RegulatoryNotification.objects.filter(crisis_id__in=ids).order_by("kind", "filing"):
        filings.setdefault((row.crisis_id, row.kind), []).append(row)
    damages = {damage.crisis_id: damage for damage in DamageAssessment.objects.filter(crisis_id__in=ids)}
    summaries = {}
    for crisis in crises:
        required = sent = overdue = 0
        next_due: datetime.datetime | None = None
        health = _health({"ars_cert_sante": filings.get((crisis.pk, "ars_cert_sante"), [])})
        for requirement in notification_requirements(crisis=crisis, damage=damages.get(crisis.pk), health=health):
            if not requirement.required:
                continue
            clock = _clock(crisis, requirement, filings.get((crisis.pk, requirement.kind), []), now)
            required += 1
            if not clock.pending:
                sent += 1
                continue
            overdue += clock.overdue
            next_due = clock.due_at if next_due is None else min(next_due, clock.due_at)
        summaries[crisis.pk] = NotificationSummary(required, sent, overdue, next_due)
    return summaries
