"""Regulatory notifications of a crisis, each with its clock from the declaration:

- the health-sector incident report to the ARS and CERT Santé (signalement des incidents
  de sécurité des systèmes d'information, required "sans délai"),
- the personal data breach notification to the CNIL within 72 hours when personal data
  is involved (GDPR article 33; an initial then complementary filings),
- the NIS incident notification to ANSSI, for essential-services operators only,
- the complaint to the police or gendarmerie (dépôt de plainte).

Which are required is computed from the crisis (its type, the damage assessment, the
establishment's OES flag) and shown with the reason. The form is pre-filled from the
crisis data; every save, export and sending is written to the logbook and the audit."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
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

# Time allowed from the declaration. The CNIL's 72 hours are the law (GDPR art. 33). The
# ARS/CERT Santé report and the NIS notification are due "sans délai": we count a target
# of 2 hours for the former and the 24 hours of the NIS 2 early warning for the latter.
# A complaint has no legal deadline; 72 hours keeps the evidence fresh.
DELAYS: dict[str, datetime.timedelta] = {
    "ars_cert_sante": datetime.timedelta(hours=2),
    "cnil": datetime.timedelta(hours=72),
    "anssi": datetime.timedelta(hours=24),
    "complaint": datetime.timedelta(hours=72),
}
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


def notification_requirements(*, crisis: Crisis, damage: DamageAssessment | None = None) -> list[Requirement]:
    involved, why = personal_data_involved(crisis, damage)
    oes = crisis.establishment.is_essential_operator
    malicious = crisis.kind != CrisisKind.PROVIDER_OUTAGE
    return [
        Requirement("ars_cert_sante", True,
                    _("every health establishment reports its security incidents without delay")),
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

    @property
    def sent_at(self) -> datetime.datetime | None:
        first = self.filings[0] if self.filings else None
        return first.sent_at if first is not None else None

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

    @property
    def overdue(self) -> bool:
        return self.required and not self.is_sent and self.now > self.due_at

    @property
    def seconds_left(self) -> int:
        return int((self.due_at - self.now).total_seconds())

    @property
    def time_left(self) -> str:
        """'5 h 07 min' left, or late by as much (the sign is in `overdue`)."""
        seconds = abs(self.seconds_left)
        hours, minutes = seconds // 3600, (seconds % 3600) // 60
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def notification_clocks(*, crisis: Crisis, now: datetime.datetime | None = None) -> list[Clock]:
    """Every notification of the crisis with its clock (due = declared_at + delay), in
    three queries."""
    now = now or timezone.now()
    filings: dict[str, list[RegulatoryNotification]] = {}
    for row in RegulatoryNotification.objects.filter(crisis=crisis).order_by("kind", "filing"):
        filings.setdefault(row.kind, []).append(row)
    clocks = []
    for requirement in notification_requirements(crisis=crisis):
        kind = NotificationKind(requirement.kind)
        rows = filings.get(kind, [])
        clocks.append(Clock(
            kind=kind, label=str(kind.label), required=requirement.required, reason=requirement.reason,
            due_at=crisis.declared_at + DELAYS[kind], notification=rows[-1] if rows else None, filings=rows,
            now=now,
        ))
    return clocks


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


def notification_complement(*, actor: Actor, crisis: Crisis, kind: str) -> RegulatoryNotification:
    """Open a complementary filing to the CNIL, once the previous one is sent."""
    kind = _kind(kind)
    rights.require_run_crisis(actor, crisis)
    if kind != "cnil":
        raise ValidationError(_("Only the CNIL notification takes complementary filings."))
    with transaction.atomic():
        current = (RegulatoryNotification.objects.select_for_update().filter(crisis=crisis, kind=kind)
                   .order_by("-filing").first())
        if current is None or not current.is_sent:
            raise ValidationError(_("Send the initial filing before a complementary one."))
        data = dict(current.data)
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
        late = moment - (crisis.declared_at + DELAYS[kind])
        text = _("Notification sent: %(what)s (filing %(filing)d), reference %(ref)s.") % {
            "what": NotificationKind(kind).label, "filing": current.filing, "ref": reference}
        if current.filing == 1 and late.total_seconds() > 0:
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
    return {
        "notification": kind.value,
        "title": str(kind.label),
        "recipient": RECIPIENTS[kind],
        "crisis": crisis.pk,
        "is_exercise": crisis.is_exercise,
        "required": requirement.required,
        "required_reason": requirement.reason,
        "declared_at": utc_iso(crisis.declared_at),
        "due_at": utc_iso(crisis.declared_at + DELAYS[kind]),
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
        due = crisis.declared_at + DELAYS[NotificationKind(document["notification"])]
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
        for requirement in notification_requirements(crisis=crisis, damage=damages.get(crisis.pk)):
            if not requirement.required:
                continue
            kind = NotificationKind(requirement.kind)
            clock = Clock(
                kind=kind, label=str(kind.label), required=True, reason=requirement.reason,
                due_at=crisis.declared_at + DELAYS[kind], notification=None,
                filings=filings.get((crisis.pk, kind), []), now=now,
            )
            required += 1
            if clock.is_sent:
                sent += 1
                continue
            overdue += clock.overdue
            next_due = clock.due_at if next_due is None else min(next_due, clock.due_at)
        summaries[crisis.pk] = NotificationSummary(required, sent, overdue, next_due)
    return summaries
