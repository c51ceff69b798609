"""Writes of the awareness app: campaigns, assignments, invitations, quiz results.

Every write checks its right (rights.require_manage_awareness) or its signed link, and
writes its audit entry. The personal link carries one campaign and one person, signed
with the platform's secret and valid AWARENESS_LINK_DAYS days: no account is needed."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting import services as alerting
from planblanc.awareness.audiences import audiences_of_memberships, modules_for
from planblanc.awareness.content import ModuleSpec, catalogue, module_get
from planblanc.awareness.models import Assignment, Campaign, InvitationChannel
from planblanc.directory.models import Establishment, Membership, Person

LINK_SALT = "planblanc.awareness.invitation"


class LinkError(Exception):
    """A personal link that is forged, altered, expired or no longer matches anything."""


@dataclass(frozen=True)
class Learner:
    campaign: Campaign
    person: Person


def link_make(*, campaign: Campaign, person: Person) -> str:
    return signing.dumps({"c": campaign.pk, "p": person.pk}, salt=LINK_SALT, compress=True)


def link_url(*, campaign: Campaign, person: Person) -> str:
    token = link_make(campaign=campaign, person=person)
    return settings.ALERTING_PUBLIC_URL + reverse("awareness:learner_home", args=[token])


def link_verify(token: str) -> Learner:
    """The campaign and person of a personal link; LinkError when forged or expired."""
    if len(token) > 300:
        raise LinkError("too long")
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=datetime.timedelta(days=settings.AWARENESS_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkError("expired") from exc
    except signing.BadSignature as exc:
        raise LinkError("forged") from exc
    if not isinstance(data, dict):
        raise LinkError("forged")
    assignment = (
        Assignment.objects.select_related("campaign__establishment", "person")
        .filter(campaign_id=data.get("c"), person_id=data.get("p")).first()
    )
    if assignment is None:
        raise LinkError("unknown")
    return Learner(campaign=assignment.campaign, person=assignment.person)


def campaign_create(
    *, actor: Actor, establishment: Establishment, year: int, title: str, deadline: datetime.date,
    channel: str = InvitationChannel.EMAIL,
) -> Campaign:
    """The campaign and one assignment per person × module of their audiences, all or nothing."""
    rights.require_manage_awareness(actor, establishment)
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors.setdefault("title", []).append(_("Give the campaign a title."))
    if deadline < timezone.localdate():
        errors.setdefault("deadline", []).append(_("The deadline must not be in the past."))
    if channel not in InvitationChannel.values:
        errors.setdefault("channel", []).append(_("Unknown channel."))
    if errors:
        raise ValidationError(errors)
    modules = list(catalogue())
    people: dict[int, list[tuple[str, str | None, int | None]]] = {}
    for person_id, function, kind, department_id in Membership.objects.filter(
        establishment=establishment
    ).values_list("person_id", "function", "department__kind", "department_id"):
        people.setdefault(person_id, []).append((function, kind, department_id))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            establishment=establishment, year=year, title=title[:200], deadline=deadline, channel=channel,
            modules=[module.slug for module in modules],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        rows = []
        for person_id, memberships in people.items():
            audiences = audiences_of_memberships((function, kind) for function, kind, _d in memberships)
            department_id = next((d for _f, _k, d in memberships if d is not None), None)
            for module in modules_for(audiences, modules):
                rows.append(Assignment(
                    campaign=campaign, person_id=person_id, department_id=department_id,
                    audiences=sorted(audiences), module=module.slug,  # type: ignore[attr-defined]
                ))
        Assignment.objects.bulk_create(rows, batch_size=1000)
        audit_record(actor=actor, action="awareness.campaign_create", obj=campaign, establishment=establishment,
                     changes={"title": title, "year": year, "deadline": deadline.isoformat(),
                              "people": len(people), "assignments": len(rows)})
    return campaign


INVITATION_FR = (
    "Bonjour {name}, votre formation annuelle de sensibilisation à la cybersécurité de {establishment} "
    "vous attend (quelques minutes par module) : {link}"
)
INVITATION_EN = (
    "Hello {name}, your yearly cybersecurity awareness training at {establishment} is waiting for you "
    "(a few minutes per module): {link}"
)


def campaign_invite(*, actor: Actor, campaign: Campaign) -> int:
    """Send each person who has modules left their personal link, through the alerting
    engine (the campaign's channel). Returns the number of people invited."""
    rights.require_manage_awareness(actor, campaign.establishment)
    pending = (
        Person.objects.filter(awareness_assignments__campaign=campaign, awareness_assignments__completed_at=None)
        .distinct().order_by("pk")
    )
    recipients = [
        alerting.RecipientInput(
            name=person.full_name, language=person.preferred_language, email=person.email,
            mobile_phone=str(person.mobile_phone or ""), establishment_name=campaign.establishment.name,
            person=person, values={"link": link_url(campaign=campaign, person=person)},
        )
        for person in pending
    ]
    if not recipients:
        raise ValidationError(_("Everyone has completed their modules: there is nobody to invite."))
    with transaction.atomic():
        alert = alerting.campaign_create(
            actor=actor, title=campaign.title, message_fr=INVITATION_FR, message_en=INVITATION_EN,
            recipients=recipients, channels=(campaign.channel,), establishment=campaign.establishment,
        )
        campaign.invited_at = timezone.now()
        campaign.alert_campaign_id = alert.pk
        campaign.save(update_fields=["invited_at", "alert_campaign_id"])
        audit_record(actor=actor, action="awareness.campaign_invite", obj=campaign,
                     establishment=campaign.establishment, changes={"people": len(recipients)})
    return len(recipients)


def quiz_questions(*, assignment: Assignment) -> list:
    """The questions of the assignment's next attempt (a fresh draw after each attempt)."""
    module = module_get(assignment.module)
    if module is None:
        return []
    return module.draw(seed=f"{assignment.pk}:{assignment.attempts}")


def quiz_submit(*, learner: Learner, assignment: Assignment, answers: dict[str, set[int]]) -> tuple[int, bool]:
    """Score one attempt of the drawn questions; the module is completed once passed.
    Only the score is kept, never the answers chosen."""
    if assignment.campaign_id != learner.campaign.pk or assignment.person_id != learner.person.pk:
        raise LinkError("not this person's module")
    module: ModuleSpec | None = module_get(assignment.module)
    if module is None:
        raise LinkError("module withdrawn")
    drawn = {question.id for question in quiz_questions(assignment=assignment)}
    if set(answers) != drawn or any(not chosen for chosen in answers.values()):
        raise ValidationError(_("Answer every question."))
    score, passed = module.score(answers)
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        locked.attempts += 1
        locked.best_score = max(score, locked.best_score or 0)
        if passed and locked.completed_at is None:
            locked.completed_at = timezone.now()
        locked.save(update_fields=["attempts", "best_score", "completed_at"])
        audit_record(
            actor=f"{learner.person.full_name} (lien personnel)", action="awareness.quiz_submit", obj=locked,
            establishment=learner.campaign.establishment,
            changes={"module": module.slug, "score": score, "passed": passed, "attempt": locked.attempts},
        )
    assignment.refresh_from_db()
    return score, passed


CERTIFICATE_CSS = """
@page { size: A4 landscape; margin: 20mm; }
body { font-family: sans-serif; font-size: 11pt; color: #111; text-align: center; }
h1 { font-size: 24pt; margin: 10mm 0 4mm; } .name { font-size: 20pt; font-weight: bold; margin: 6mm 0; }
table { border-collapse: collapse; margin: 6mm auto; } th, td { border: 1px solid #bbb; padding: 2pt 8pt; text-align: left; }
.muted { color: #555; font-size: 9pt; }
"""


def certificate_pdf(*, learner: Learner) -> bytes:
    """The person's certificate for the campaign, once every module is completed;
    ValidationError before that. Rendered in the person's language."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from planblanc.core.pdf import render_pdf

    assignments = list(Assignment.objects.filter(campaign=learner.campaign, person=learner.person))
    if not assignments or any(a.completed_at is None for a in assignments):
        raise ValidationError(_("The certificate is available once every module is completed."))
    language = learner.person.preferred_language or "fr"
    with translation.override(language):
        rows = [(module_get(a.module), a) for a in assignments]
        html = render_to_string("awareness/certificate_pdf.html", {
            "person": learner.person, "campaign": learner.campaign,
            "rows": [(m.title.get(language) if m else a.module, a) for m, a in rows],
            "completed_at": max(a.completed_at for a in assignments),
        })
    content = render_pdf(html=html, css=CERTIFICATE_CSS)
    audit_record(actor=f"{learner.person.full_name} (lien personnel)", action="awareness.certificate",
                 obj=learner.campaign, establishment=learner.campaign.establishment, changes={"bytes": len(content)})
    return content


REFLEX_CARD_CSS = """
@page { size: A6; margin: 6mm; }
body { font-family: sans-serif; font-size: 7.5pt; color: #111; }
h1 { font-size: 11pt; margin: 0 0 2mm; } h2 { font-size: 8.5pt; margin: 3mm 0 1mm; border-bottom: 1px solid #999; }
ol, ul { margin: 0; padding-left: 4mm; } li { margin: 0 0 .6mm; }
.muted { color: #555; font-size: 6.5pt; } .phone { font-weight: bold; white-space: nowrap; }
"""

# Seats whose holder staff call first when a screen shows a ransom note.
CARD_FUNCTIONS = ("it_director", "ciso", "on_call_manager", "director")


def reflex_card_context(*, snapshot: dict) -> dict:
    """What the pocket card shows, read from an approved plan's snapshot: the staff's
    first reflexes (a sheet of the plan owned by staff, else the platform's), the
    numbers to call and where the crisis cell meets."""
    staff_sheet = next((s for s in snapshot.get("reflex_sheets", []) if s.get("owner_function") == "staff"), None)
    reflexes = [item["text"] for item in (staff_sheet or {}).get("items", []) if item.get("phase") == "15min"]
    if not reflexes:
        reflexes = [
            _("Unplug the network cable and switch off Wi-Fi; do not shut the computer down."),
            _("Call the IT support desk or the on-call team by telephone, not by email."),
            _("Write down the time and photograph the screen."),
            _("Tell the head of the department; do not pay, do not answer the attackers."),
            _("Keep caring for patients on paper, following the degraded-mode procedures."),
        ]
    numbers: list[tuple[str, str]] = []
    switchboard = (snapshot.get("establishment") or {}).get("switchboard_phone")
    if switchboard:
        numbers.append((str(_("Switchboard")), str(switchboard)))
    for function in CARD_FUNCTIONS:
        for seat in snapshot.get("seats", []):
            holder = seat.get("holder") or {}
            phone = holder.get("mobile_phone") or holder.get("landline_phone")
            if seat.get("function") == function and phone:
                numbers.append((seat.get("title") or function, str(phone)))
    cell = snapshot.get("cell") or {}
    if cell.get("bridge_phone"):
        numbers.append((str(_("Crisis conference bridge")), f"{cell['bridge_phone']} {cell.get('bridge_code') or ''}".strip()))
    for contact in snapshot.get("contacts", []):
        if contact.get("kind") == "cert_sante" and (contact.get("phone_24_7") or contact.get("phone")):
            numbers.append((contact.get("organisation") or "CERT Santé", str(contact.get("phone_24_7") or contact.get("phone"))))
    return {"reflexes": reflexes[:8], "numbers": numbers[:8], "meeting_place": cell.get("meeting_place", ""),
            "fallback_place": cell.get("fallback_place", ""),
            "establishment_name": (snapshot.get("establishment") or {}).get("name", "")}


def reflex_card_pdf(*, actor: Actor, establishment: Establishment) -> bytes:
    """The A6 pocket reflex card from the latest approved version of the plan (French);
    ValidationError when no version is approved yet. The export is audited."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from planblanc.core.pdf import render_pdf
    from planblanc.plans.models import PlanVersion

    version = PlanVersion.objects.filter(plan__establishment=establishment).order_by("-number").first()
    if version is None:
        raise ValidationError(_("The pocket card is made from the approved plan: approve a version first."))
    with translation.override("fr"):
        html = render_to_string("awareness/reflex_card_pdf.html", {
            **reflex_card_context(snapshot=version.snapshot), "version": version})
    content = render_pdf(html=html, css=REFLEX_CARD_CSS)
    audit_record(actor=actor, action="awareness.reflex_card", obj=version, establishment=establishment,
                 changes={"version": version.number, "bytes": len(content)})
    return content
