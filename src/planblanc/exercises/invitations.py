"""iCalendar invitations (.ics) for an exercise's participants."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from planblanc.exercises.models import Exercise, Participant

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
