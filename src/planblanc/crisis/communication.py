"""Crisis communication: messages to staff, patients, the press and partners written
from templates (data files under crisis/data/communication/*.yaml, French and English,
${variables}), approved by the director, a deputy director or the communication officer,
then sent through the alerting engine to chosen people. Every step is written to the
logbook and the audit."""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import CRISIS_PROCESS, Actor
from planblanc.crisis.chain import nfc
from planblanc.crisis.models import CommunicationDraft, CommunicationStatus, Crisis, EntryKind
from planblanc.crisis.services import (
    logbook_append,
)
from planblanc.directory.models import Membership, Person
from planblanc.tenancy import user_label

DATA_DIR = Path(__file__).resolve().parent / "data" / "communication"
CHANNELS = ("email", "sms")
MAX_MESSAGE = 5000


@functools.cache
def communication_templates() -> dict[str, dict[str, Any]]:
    """The templates by key, read once from the data files."""
    templates = {}
    for path in sorted(DATA_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        templates[data["key"]] = data
    return templates


def _fill(text: str, values: dict[str, str]) -> str:
    return string.Template(text).safe_substitute(values).strip()


def communication_render(*, crisis: Crisis, template_key: str, values: dict[str, str] | None = None) -> dict[str, str]:
    """A template filled with the crisis's values (establishment, declaration date) and
    those given (instructions, contact)."""
    template = communication_templates().get(template_key)
    if template is None:
        raise ValidationError({"template_key": [_("Choose a communication template.")]})
    filled = {
        "establishment": crisis.establishment.name,
        "date": timezone.localtime(crisis.declared_at).strftime("%d/%m/%Y %H:%M"),
        "instructions": "", "contact": str(crisis.establishment.switchboard_phone or ""),
        **{k: nfc(str(v)).strip() for k, v in (values or {}).items() if v is not None},
    }
    return {
        "title": _fill(template["title"]["fr"], filled)[:200],
        "message_fr": _fill(template["body"]["fr"], filled),
        "message_en": _fill(template["body"].get("en", ""), filled),
        "audience": template["audience"],
    }


def _check_texts(title: str, message_fr: str, message_en: str) -> None:
    errors: dict[str, list[Any]] = {}
    if not title:
        errors["title"] = [_("Give the message a title.")]
    if not message_fr:
        errors["message_fr"] = [_("Write the message in French.")]
    for name, text in (("message_fr", message_fr), ("message_en", message_en)):
        if len(text) > MAX_MESSAGE:
            errors[name] = [_("At most %(max)d characters.") % {"max": MAX_MESSAGE}]
    if errors:
        raise ValidationError(errors)


def communication_draft(
    *, actor: Actor, crisis: Crisis, template_key: str, title: str = "", message_fr: str = "", message_en: str = "",
    values: dict[str, str] | None = None,
) -> CommunicationDraft:
    """A new draft from a template; given texts replace the filled template's."""
    rights.require_run_crisis(actor, crisis)
    rendered = communication_render(crisis=crisis, template_key=template_key, values=values)
    title = nfc(title).strip() or rendered["title"]
    message_fr = nfc(message_fr).strip() or rendered["message_fr"]
    message_en = nfc(message_en).strip() or rendered["message_en"]
    _check_texts(title, message_fr, message_en)
    with transaction.atomic():
        draft = CommunicationDraft.objects.create(
            crisis=crisis, template_key=template_key, audience=rendered["audience"], title=title[:200],
            message_fr=message_fr, message_en=message_en, created_by_label=user_label(actor)[:200])
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.COMMUNICATION),
                       text=_("Communication drafted (%(audience)s): %(title)s") % {
                           "audience": draft.audience, "title": draft.title})
        audit_record(actor=actor, action="crisis.communication_draft", obj=draft,
                     establishment=crisis.establishment, changes={"template": template_key})
    return draft


def communication_edit(
    *, actor: Actor, draft: CommunicationDraft, title: str, message_fr: str, message_en: str = "",
) -> CommunicationDraft:
    """Change the texts; an approved message goes back to draft and needs approval again."""
    crisis = draft.crisis
    rights.require_run_crisis(actor, crisis)
    title, message_fr, message_en = nfc(title).strip(), nfc(message_fr).strip(), nfc(message_en).strip()
    _check_texts(title, message_fr, message_en)
    with transaction.atomic():
        locked = CommunicationDraft.objects.select_for_update().get(pk=draft.pk)
        if locked.status == CommunicationStatus.SENT:
            raise ValidationError(_("This message was sent: it can no longer be changed."))
        locked.title, locked.message_fr, locked.message_en = title[:200], message_fr, message_en
        locked.status, locked.approved_at, locked.approved_by_label = CommunicationStatus.DRAFT, None, ""
        locked.save()
        audit_record(actor=actor, action="crisis.communication_edit", obj=locked, establishment=crisis.establishment)
    return locked


def communication_approve(*, actor: Actor, draft: CommunicationDraft) -> CommunicationDraft:
    crisis = draft.crisis
    if not rights.may_approve_communication(actor, crisis):
        raise PermissionDenied(_(
            "Only the director, a deputy director or the communication officer may approve a message."))
    with transaction.atomic():
        locked = CommunicationDraft.objects.select_for_update().get(pk=draft.pk)
        if locked.status != CommunicationStatus.DRAFT:
            raise ValidationError(_("Only a draft can be approved."))
        locked.status, locked.approved_at = CommunicationStatus.APPROVED, timezone.now()
        locked.approved_by_label = user_label(actor)[:200]
        locked.save()
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.COMMUNICATION),
                       text=_("Communication approved by %(who)s: %(title)s") % {
                           "who": locked.approved_by_label, "title": locked.title})
        audit_record(actor=actor, action="crisis.communication_approve", obj=locked,
                     establishment=crisis.establishment)
    return locked


def _brace_safe(text: str) -> str:
    # Campaign messages are templates with {variables}: ours are already filled.
    return text.replace("{", "{{").replace("}", "}}")


def communication_send(
    *, actor: Actor, draft: CommunicationDraft, people: list[Person], channels: tuple[str, ...] = ("email",),
) -> CommunicationDraft:
    """Send an approved message to the chosen people of the establishment through the
    alerting engine (one campaign); refused while it is not approved."""
    from planblanc.alerting.services import campaign_create, recipients_from_people

    crisis = draft.crisis
    rights.require_run_crisis(actor, crisis)
    if draft.status == CommunicationStatus.SENT:
        raise ValidationError(_("This message was already sent."))
    if draft.status != CommunicationStatus.APPROVED:
        raise ValidationError(_("This message must be approved by the director, a deputy director or the "
                                "communication officer before it is sent."))
    if not people:
        raise ValidationError({"people": [_("Choose at least one recipient.")]})
    ids = {p.pk for p in people}
    inside = set(Membership.objects.filter(establishment=crisis.establishment, person_id__in=ids)
                 .values_list("person_id", flat=True))
    if inside != ids:
        raise ValidationError({"people": [_("Recipients must be people of this establishment.")]})
    if not channels or any(c not in CHANNELS for c in channels):
        raise ValidationError({"channels": [_("Choose email, SMS or both.")]})
    with transaction.atomic():
        locked = CommunicationDraft.objects.select_for_update().get(pk=draft.pk)
        if locked.status != CommunicationStatus.APPROVED:
            raise ValidationError(_("This message must be approved before it is sent."))
        # Our own rule decided who may send; the engine acts for the crisis app.
        campaign = campaign_create(
            actor=CRISIS_PROCESS, title=_brace_safe(locked.title), message_fr=_brace_safe(locked.message_fr),
            message_en=_brace_safe(locked.message_en),
            recipients=recipients_from_people(people, establishment_name=crisis.establishment.name),
            channels=channels, establishment=crisis.establishment, is_exercise=crisis.is_exercise,
        )
        locked.status, locked.campaign, locked.recipient_count = CommunicationStatus.SENT, campaign, len(people)
        locked.sent_at, locked.sent_by_label = timezone.now(), user_label(actor)[:200]
        locked.save()
        logbook_append(actor=actor, crisis=crisis, kind=str(EntryKind.COMMUNICATION),
                       text=_("Communication sent to %(count)d people (%(channels)s, alert campaign #%(id)d): "
                              "%(title)s") % {"count": len(people), "channels": ", ".join(channels),
                                              "id": campaign.pk, "title": locked.title})
        audit_record(actor=actor, action="crisis.communication_send", obj=locked,
                     establishment=crisis.establishment, changes={"campaign": campaign.pk, "people": len(people)})
    return locked


def communications_of(*, crisis: Crisis) -> QuerySet[CommunicationDraft]:
    return CommunicationDraft.objects.filter(crisis=crisis).order_by("-created_at", "-id")


def communication_people(*, crisis: Crisis) -> QuerySet[Person]:
    """Who may be chosen as recipients: the people of the establishment."""
    return Person.objects.filter(memberships__establishment=crisis.establishment).distinct().order_by(
        "last_name", "first_name")
