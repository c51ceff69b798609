"""Invitations of an exercise's participants: iCalendar entries (.ics) to download, and
invitations sent by email and SMS through the alerting engine."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import EXERCISE_RUNNER, Actor
from planblanc.exercises.models import Exercise, Participant, ParticipantRole

DEFAULT_DURATION = datetime.timedelta(hours=2)


def exercise_invitation_ics(*, exercise: Exercise, participant: Participant | None = None) -> bytes:
    """One VEVENT for the exercise; for a participant, addressed to them with their role.
    The UID is stable so that a second download updates the same calendar entry."""
    if exercise.planned_start is None:
        raise ValueError("an exercise without a date has no invitation")
    calendar = Calendar()
    calendar.add("prodid", "-//Plan Blanc Numerique//Exercices//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"exercise-{exercise.pk}@planblanc")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", exercise.planned_start)
    event.add("dtend", exercise.planned_start + (exercise.planned_duration or DEFAULT_DURATION))
    event.add("summary", _("EXERCISE — %(title)s") % {"title": exercise.title})
    lines = [_("Crisis exercise of %(name)s.") % {"name": exercise.establishment.name}]
    if participant is not None:
        lines.append(
            _("Your role: %(role)s%(cell)s.")
            % {"role": participant.get_role_display(), "cell": f" — {participant.cell}" if participant.cell else ""}
        )
    lines.append(_("This is an exercise: every message will be marked EXERCICE."))
    event.add("description", "\n".join(lines))
    if exercise.location:
        event["location"] = vText(exercise.location)
    event.add("sequence", int(exercise.updated_at.timestamp()) if exercise.updated_at else 0)
    if participant is not None and participant.person.email:
        attendee = vCalAddress(f"mailto:{participant.person.email}")
        attendee.params["cn"] = vText(str(participant.person))
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical()


# Roles invited by the alerting engine, and the page each one opens on the day.
INVITED_ROLES: dict[str, str] = {
    str(ParticipantRole.PLAYER): "exercises:run_player", str(ParticipantRole.OBSERVER): "exercises:run_observer"}
INVITATION_CHANNELS = ("email", "sms")


def _invitation_text(exercise: Exercise, role: str, language: str) -> tuple[str, str]:
    """(title, message) of one role's invitation in one language. Plain text, without
    typographic quotes or dashes, so that the SMS stays in GSM-7; `{link}` is the
    recipient's page and `{name}` their name (alerting/templating.py)."""
    with translation.override(language):
        start = timezone.localtime(exercise.planned_start)
        title = _("Exercise invitation: %(title)s") % {"title": exercise.title}
        lines = [
            _("Hello {name},"),
            _("You are invited to the crisis exercise %(title)s of %(establishment)s on %(date)s at %(time)s.") % {
                "title": exercise.title, "establishment": exercise.establishment.name,
                "date": formats.date_format(start, "SHORT_DATE_FORMAT"), "time": start.strftime("%H:%M")},
            _("Your role: %(role)s.") % {"role": ParticipantRole(role).label},
        ]
        if exercise.location:
            lines.append(_("Place: %(place)s.") % {"place": exercise.location})
        lines.append(_("Your exercise page: {link}"))
    # Literal braces of the exercise's own text must not read as variables.
    protected = {"{name}": "\0name\0", "{link}": "\0link\0"}
    text = "\n".join(lines)
    for placeholder, mark in protected.items():
        text = text.replace(placeholder, mark)
    text = text.replace("{", "{{").replace("}", "}}")
    for placeholder, mark in protected.items():
        text = text.replace(mark, placeholder)
    return title.replace("{", "(").replace("}", ")")[:200], text


def invitations_send(
    *, actor: Actor, exercise: Exercise, channels: tuple[str, ...] = INVITATION_CHANNELS,
) -> list[Any]:
    """Send the invitations of the exercise's players and observers through the alerting
    engine (one campaign per role, marked EXERCICE, with the usual outbox and delivery
    rows), each with the link to their page. Refused for an exercise without a date or
    without players or observers."""
    from planblanc.alerting.services import campaign_create, recipients_from_people

    if not rights.may_edit_exercise(actor, exercise):
        raise PermissionDenied(_("You are not allowed to invite the participants of this exercise."))
    if exercise.planned_start is None:
        raise ValidationError(_("Schedule the exercise before sending the invitations."))
    if not channels or any(c not in INVITATION_CHANNELS for c in channels):
        raise ValidationError(_("Invitations go by email or SMS."))
    campaigns = []
    with transaction.atomic():
        for role, page in INVITED_ROLES.items():
            people = [p.person for p in exercise.participants.filter(role=role).select_related("person")]
            if not people:
                continue
            link = settings.ALERTING_PUBLIC_URL + reverse(page, args=[exercise.pk])
            recipients = [
                dataclasses.replace(r, values={"link": link})
                for r in recipients_from_people(people, establishment_name=exercise.establishment.name)
            ]
            title, message_fr = _invitation_text(exercise, role, "fr")
            _title_en, message_en = _invitation_text(exercise, role, "en")
            campaigns.append(campaign_create(
                actor=EXERCISE_RUNNER, title=title, message_fr=message_fr, message_en=message_en,
                recipients=recipients, channels=channels, establishment=exercise.establishment, is_exercise=True,
                mode="parallel",
            ))
        if not campaigns:
            raise ValidationError(_("Add players or observers before sending the invitations."))
        audit_record(actor=actor, action="exercise.invitations_send", obj=exercise,
                     establishment=exercise.establishment,
                     changes={"campaigns": [c.pk for c in campaigns], "channels": list(channels),
                              "recipients": sum(c.recipients.count() for c in campaigns)})
    return campaigns
