"""Writes of the awareness app: campaigns, assignments, invitations, quiz results.

Every write checks its right (rights.require_manage_awareness) or its signed link, and
writes its audit entry. The personal link carries one campaign and one person, signed
with the platform's secret and valid AWARENESS_LINK_DAYS days: no account is needed."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import actors, rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor, SystemActor
from planblanc.alerting import services as alerting
from planblanc.awareness.audiences import audiences_of_memberships, modules_for
from planblanc.awareness.content import ModuleSpec, catalogue, module_get
from planblanc.awareness.models import Assignment, Campaign, CampaignLaunch, InvitationChannel
from planblanc.directory.models import Establishment, Group, Membership, Person, Region

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


def _campaign_errors(*, title: str, deadline: datetime.date, channel: str, reminder_days: int | None) -> None:
    errors: dict[str, list[str]] = {}
    if not title:
        errors.setdefault("title", []).append(_("Give the campaign a title."))
    if deadline < timezone.localdate():
        errors.setdefault("deadline", []).append(_("The deadline must not be in the past."))
    if channel not in InvitationChannel.values:
        errors.setdefault("channel", []).append(_("Unknown channel."))
    if reminder_days is not None and not 0 <= reminder_days <= 365:
        errors.setdefault("reminder_days", []).append(_("Between 0 and 365 days."))
    if errors:
        raise ValidationError(errors)


ASSIGNMENT_COLUMNS = ("campaign_id", "person_id", "department_id", "audiences", "module", "attempts")


def _assignments_insert(rows: Iterable[tuple[int, int, int | None, str, str]]) -> int:
    """Write (campaign, person, department, audiences as JSON, module) rows: COPY on
    PostgreSQL (a national campaign is millions of rows), bulk INSERT elsewhere."""
    table = connection.ops.quote_name(Assignment._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ASSIGNMENT_COLUMNS)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row((*row, 0))
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, 0)"  # noqa: S608 - our own table
        batch: list[tuple[int, int, int | None, str, str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 1000:
                cursor.executemany(sql, batch)
                count, batch = count + len(batch), []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


# Establishments written per round: bounds the memory of a national campaign.
CAMPAIGN_CHUNK = 300


def _campaigns_write(
    *, actor: Actor, establishments: list[Establishment], year: int, title: str, deadline: datetime.date,
    channel: str, reminder_days: int | None, launch: CampaignLaunch | None = None,
) -> list[Campaign]:
    """One campaign per establishment and one assignment per person × module of their
    audiences (one membership query per round of establishments). Inside the caller's
    transaction."""
    modules = list(catalogue())
    created_by = actor if getattr(actor, "is_authenticated", False) else None
    # Audience sets repeat: their module lists and JSON are computed once each.
    plans: dict[frozenset[str], tuple[str, list[str]]] = {}
    written: list[Campaign] = []
    for start in range(0, len(establishments), CAMPAIGN_CHUNK):
        chunk = establishments[start:start + CAMPAIGN_CHUNK]
        ids = [establishment.pk for establishment in chunk]
        people: dict[int, dict[int, list[tuple[str, str | None, int | None]]]] = {pk: {} for pk in ids}
        memberships = Membership.objects.filter(establishment_id__in=ids).order_by().values_list(
            "establishment_id", "person_id", "function", "department__kind", "department_id")
        for establishment_id, person_id, function, kind, department_id in memberships.iterator(chunk_size=20_000):
            people[establishment_id].setdefault(person_id, []).append((function, kind, department_id))
        campaigns = Campaign.objects.bulk_create([
            Campaign(
                establishment=establishment, year=year, title=title[:200], deadline=deadline, channel=channel,
                modules=[module.slug for module in modules], created_by=created_by, launch=launch,
                people=len(people[establishment.pk]),
                **({"reminder_days": reminder_days} if reminder_days is not None else {}),
            )
            for establishment in chunk
        ])
        if any(campaign.pk is None for campaign in campaigns):
            by_establishment = dict(Campaign.objects.filter(
                establishment_id__in=ids, year=year, launch=launch, title=title[:200]
            ).order_by("establishment_id", "pk").values_list("establishment_id", "pk"))
            for campaign in campaigns:
                campaign.pk = by_establishment[campaign.establishment_id]

        def rows(campaigns: list[Campaign] = campaigns, people: dict = people) -> Iterator[tuple]:
            for campaign in campaigns:
                for person_id, held in people[campaign.establishment_id].items():
                    audiences = audiences_of_memberships((function, kind) for function, kind, _d in held)
                    if audiences not in plans:
                        slugs = [module.slug for module in modules_for(audiences, modules)]  # type: ignore[attr-defined]
                        plans[audiences] = (json.dumps(sorted(audiences)), slugs)
                    audiences_json, slugs = plans[audiences]
                    department_id = next((d for _f, _k, d in held if d is not None), None)
                    for slug in slugs:
                        yield (campaign.pk, person_id, department_id, audiences_json, slug)

        _assignments_insert(rows())
        written.extend(campaigns)
    return written


def campaign_create(
    *, actor: Actor, establishment: Establishment, year: int, title: str, deadline: datetime.date,
    channel: str = "email", reminder_days: int | None = None,
) -> Campaign:
    """The campaign and one assignment per person × module of their audiences, all or nothing."""
    rights.require_manage_awareness(actor, establishment)
    title = (title or "").strip()
    _campaign_errors(title=title, deadline=deadline, channel=channel, reminder_days=reminder_days)
    with transaction.atomic():
        (campaign,) = _campaigns_write(actor=actor, establishments=[establishment], year=year, title=title,
                                       deadline=deadline, channel=channel, reminder_days=reminder_days)
        assignments = Assignment.objects.filter(campaign=campaign).count()
        audit_record(actor=actor, action="awareness.campaign_create", obj=campaign, establishment=establishment,
                     changes={"title": title, "year": year, "deadline": deadline.isoformat(),
                              "people": campaign.people, "assignments": assignments})
    return campaign


def launch_establishments(*, group: Group | None, region: Region | None) -> QuerySet[Establishment]:
    """The establishments a launch covers: a group's, a region's, or every one."""
    establishments = Establishment.objects.all()
    if group is not None:
        establishments = establishments.filter(group=group)
    elif region is not None:
        establishments = establishments.filter(region=region)
    return establishments.order_by("pk")


def launch_create(
    *, actor: Actor, group: Group | None = None, region: Region | None = None, year: int, title: str,
    deadline: datetime.date, channel: str = "email", reminder_days: int | None = None,
) -> CampaignLaunch:
    """One campaign for every establishment of a group, a region or the country, launched by
    whoever may launch there (rights.may_launch_awareness): a group CISO for their group, a
    regional officer for their region, the national level for any. All or nothing."""
    rights.require_launch_awareness(actor, group=group, region=region)
    title = (title or "").strip()
    _campaign_errors(title=title, deadline=deadline, channel=channel, reminder_days=reminder_days)
    establishments = list(launch_establishments(group=group, region=region))
    if not establishments:
        raise ValidationError(_("There is no establishment in this scope."))
    with transaction.atomic():
        launch = CampaignLaunch.objects.create(
            group=group, region=region, year=year, title=title[:200], deadline=deadline,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        campaigns = _campaigns_write(actor=actor, establishments=establishments, year=year, title=title,
                                     deadline=deadline, channel=channel, reminder_days=reminder_days, launch=launch)
        audit_record(actor=actor, action="awareness.launch_create", obj=launch, establishment=None,
                     changes={"title": title, "year": year, "deadline": deadline.isoformat(),
                              "group": group.pk if group else None, "region": region.pk if region else None,
                              "establishments": len(campaigns), "people": sum(c.people for c in campaigns)})
    return launch


INVITATION_FR = (
    "Bonjour {name}, votre formation annuelle de sensibilisation à la cybersécurité de {establishment} "
    "vous attend (quelques minutes par module) : {link}"
)
INVITATION_EN = (
    "Hello {name}, your yearly cybersecurity awareness training at {establishment} is waiting for you "
    "(a few minutes per module): {link}"
)


REMINDER_FR = (
    "Rappel : {name}, votre formation de sensibilisation à la cybersécurité de {establishment} "
    "n'est pas terminée ; l'échéance approche. Votre lien personnel : {link}"
)
REMINDER_EN = (
    "Reminder: {name}, your cybersecurity awareness training at {establishment} is not finished "
    "and the deadline is near. Your personal link: {link}"
)

# Invitations of a launch and reminders are sent by the platform for a decision already
# taken (the campaign launched by someone who may): that process holds the send right.
AWARENESS_PROCESS = SystemActor("awareness", sends_alerts=True)


def _pending_recipients(campaign: Campaign) -> list[alerting.RecipientInput]:
    """Each person of the campaign with a module left, with their personal link."""
    pending_ids = (
        Assignment.objects.filter(campaign=campaign, completed_at=None).order_by().values("person_id").distinct()
    )
    people = Person.objects.filter(pk__in=pending_ids).order_by("pk").only(
        "pk", "first_name", "last_name", "preferred_language", "email", "mobile_phone")
    # The address up to the token, resolved once (a national campaign has a million links).
    prefix = settings.ALERTING_PUBLIC_URL + reverse("awareness:learner_home", args=["-"])[:-2]
    return [
        alerting.RecipientInput(
            name=person.full_name, language=person.preferred_language, email=person.email,
            mobile_phone=str(person.mobile_phone or ""), establishment_name=campaign.establishment.name,
            person=person, values={"link": f"{prefix}{link_make(campaign=campaign, person=person)}/"},
        )
        for person in people
    ]


def _invite(*, actor: Actor, campaign: Campaign, wake_workers: bool = True) -> int:
    recipients = _pending_recipients(campaign)
    if not recipients:
        return 0
    with transaction.atomic():
        alert = alerting.campaign_create(
            actor=actor, title=campaign.title, message_fr=INVITATION_FR, message_en=INVITATION_EN,
            recipients=recipients, channels=(campaign.channel,), establishment=campaign.establishment,
            wake_workers=wake_workers,
        )
        campaign.invited_at = timezone.now()
        campaign.alert_campaign_id = alert.pk
        campaign.save(update_fields=["invited_at", "alert_campaign_id"])
        audit_record(actor=actor, action="awareness.campaign_invite", obj=campaign,
                     establishment=campaign.establishment, changes={"people": len(recipients)})
        transaction.on_commit(lambda: reminders_schedule(campaign=campaign))
    return len(recipients)


def campaign_invite(*, actor: Actor, campaign: Campaign) -> int:
    """Send each person who has modules left their personal link, through the alerting
    engine (the campaign's channel). Returns the number of people invited."""
    rights.require_manage_awareness(actor, campaign.establishment)
    count = _invite(actor=actor, campaign=campaign)
    if not count:
        raise ValidationError(_("Everyone has completed their modules: there is nobody to invite."))
    return count


def launch_invite(*, actor: Actor, launch: CampaignLaunch, wake_workers: bool = True) -> int:
    """The invitations of every campaign of a launch, each establishment's through its own
    alerting campaign; the workers are woken once at the end. Returns people invited."""
    rights.require_launch_awareness(actor, group=launch.group, region=launch.region)
    total = 0
    for campaign in launch.campaigns.select_related("establishment").order_by("pk"):
        total += _invite(actor=AWARENESS_PROCESS, campaign=campaign, wake_workers=False)
    audit_record(actor=actor, action="awareness.launch_invite", obj=launch, changes={"people": total})
    if wake_workers and total:
        transaction.on_commit(alerting.workers_wake)
    return total


def reminder_due_on(campaign: Campaign) -> datetime.date:
    return campaign.deadline - datetime.timedelta(days=campaign.reminder_days)


# The task that sends the reminders, registered by the app (services never import it).
_reminders_waker: Callable[..., None] | None = None


def reminders_waker_register(waker: Callable[..., None]) -> None:
    global _reminders_waker
    _reminders_waker = waker


def reminders_schedule(*, campaign: Campaign) -> None:
    """Queue the reminder pass for the day the campaign's reminder falls due."""
    if _reminders_waker is None:
        return
    due = reminder_due_on(campaign)
    at = timezone.make_aware(datetime.datetime.combine(due, datetime.time(8, 0)))
    _reminders_waker(run_after=max(at, timezone.now()))


def campaign_remind(*, campaign_id: int) -> int:
    """Send the campaign's one reminder to those not done, through the alerting engine.

    The campaign row is claimed by a conditional UPDATE (reminded_at still empty) in the
    same transaction as the outbox rows: of two workers on the same campaign one claims
    it and the other finds it taken; if sending fails nothing is kept and the next pass
    tries again. Returns the number of people reminded (0 when already done)."""
    now = timezone.now()
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign_id, reminded_at=None).update(reminded_at=now):
            return 0
        campaign = Campaign.objects.select_related("establishment").get(pk=campaign_id)
        recipients = _pending_recipients(campaign)
        if recipients:
            alert = alerting.campaign_create(
                actor=AWARENESS_PROCESS, title=campaign.title, message_fr=REMINDER_FR, message_en=REMINDER_EN,
                recipients=recipients, channels=(campaign.channel,), establishment=campaign.establishment,
            )
            campaign.reminder_alert_id = alert.pk
            campaign.save(update_fields=["reminder_alert_id"])
        audit_record(actor=AWARENESS_PROCESS, action="awareness.campaign_remind", obj=campaign,
                     establishment=campaign.establishment, changes={"people": len(recipients)})
    return len(recipients)


def reminders_due(*, today: datetime.date | None = None) -> list[int]:
    """Campaigns invited, not yet reminded, still open, whose reminder day has come."""
    today = today or timezone.localdate()
    candidates = Campaign.objects.filter(
        reminded_at=None, invited_at__isnull=False, deadline__gte=today, trained__lt=F("people"),
    ).only("pk", "deadline", "reminder_days").order_by("deadline", "pk")
    return [campaign.pk for campaign in candidates if reminder_due_on(campaign) <= today]


def reminders_process(*, today: datetime.date | None = None) -> int:
    """Every reminder due; safe to run from several workers at once. Returns people reminded."""
    return sum(campaign_remind(campaign_id=pk) for pk in reminders_due(today=today))


def reminders_next_due() -> datetime.date | None:
    upcoming = Campaign.objects.filter(
        reminded_at=None, invited_at__isnull=False, deadline__gte=timezone.localdate(),
    ).only("pk", "deadline", "reminder_days")
    return min((reminder_due_on(campaign) for campaign in upcoming), default=None)


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
        # Every module of the person in this campaign is locked, in one order: two tabs
        # finishing two modules at once cannot both miss that the person is now trained.
        mine = {row.pk: row for row in Assignment.objects.select_for_update().filter(
            campaign_id=assignment.campaign_id, person_id=assignment.person_id).order_by("pk")}
        locked = mine[assignment.pk]
        locked.attempts += 1
        locked.best_score = max(score, locked.best_score or 0)
        if passed and locked.completed_at is None:
            locked.completed_at = timezone.now()
            if all(row.completed_at is not None for row in mine.values()):
                Campaign.objects.filter(pk=assignment.campaign_id).update(trained=F("trained") + 1)
        locked.save(update_fields=["attempts", "best_score", "completed_at"])
        audit_record(
            actor=actors.learner(learner.person.pk), action="awareness.quiz_submit", obj=locked,
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
    audit_record(actor=actors.learner(learner.person.pk), action="awareness.certificate",
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
