"""Writes of the awareness app: campaigns, assignments, invitations, quiz results.

Every write checks its right (rights.require_manage_awareness) or its signed link, and
writes its audit entry. The personal link carries one campaign and one person, signed
with the platform's secret and valid AWARENESS_LINK_DAYS days: no account is needed."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import actors, rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor, SystemActor
from planblanc.alerting import services as alerting
from planblanc.alerting.models import Priority
from planblanc.awareness.audiences import audiences_of_memberships, modules_for
from planblanc.awareness.content import ModuleSpec, catalogue, module_get
from planblanc.awareness.models import (
    Assignment,
    Campaign,
    CampaignLaunch,
    InvitationChannel,
    LaunchState,
)
from planblanc.core import bulk
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
    """Write (campaign, person, department, audiences as JSON, module) rows, streamed by
    core.bulk (COPY on PostgreSQL: a national campaign is millions of rows)."""
    return bulk.rows_write(Assignment, ASSIGNMENT_COLUMNS, ((*row, 0) for row in rows))


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
    """Launch one campaign for every establishment of a group, a region or the country,
    by whoever may launch there (rights.may_launch_awareness): a group CISO for their
    group, a regional officer for their region, the national level for any.

    Only the launch is written here, in state "preparing"; its campaigns and assignments
    are written by `launch_step`, a part at a time (the background task, or the caller
    at once for a small scope: `launch_run`)."""
    rights.require_launch_awareness(actor, group=group, region=region)
    title = (title or "").strip()
    _campaign_errors(title=title, deadline=deadline, channel=channel, reminder_days=reminder_days)
    establishments = launch_establishments(group=group, region=region)
    count = establishments.count()
    if not count:
        raise ValidationError(_("There is no establishment in this scope."))
    with transaction.atomic():
        launch = CampaignLaunch.objects.create(
            group=group, region=region, year=year, title=title[:200], deadline=deadline, channel=channel,
            reminder_days=reminder_days, state=LaunchState.PREPARING, establishments=count,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(actor=actor, action="awareness.launch_create", obj=launch, establishment=None,
                     changes={"title": title, "year": year, "deadline": deadline.isoformat(),
                              "group": group.pk if group else None, "region": region.pk if region else None,
                              "establishments": count})
        transaction.on_commit(lambda: launch_wake(launch_id=launch.pk))
    return launch


def launch_people_over(launch: CampaignLaunch, limit: int) -> bool:
    """Whether the launch's scope has more than `limit` people: counts up to limit + 1
    only (a national scope has a million)."""
    ids = launch_establishments(group=launch.group, region=launch.region).values("pk")
    people = Membership.objects.filter(establishment_id__in=ids).order_by().values("person_id").distinct()
    return people[:limit + 1].count() > limit


# Establishments prepared per step, campaigns invited per step: a step is a few seconds.
LAUNCH_PREPARE_STEP = 100


def _launch_prepare_step(launch: CampaignLaunch) -> bool:
    """Write the campaigns of the next establishments of a locked launch; False once all are."""
    done = Campaign.objects.filter(launch=launch).values("establishment_id")
    todo = list(launch_establishments(group=launch.group, region=launch.region)
                .exclude(pk__in=done)[:LAUNCH_PREPARE_STEP])
    if todo:
        _campaigns_write(actor=launch.created_by or AWARENESS_PROCESS, establishments=todo, year=launch.year, title=launch.title,
                         deadline=launch.deadline, channel=launch.channel, reminder_days=launch.reminder_days,
                         launch=launch)
        launch.prepared += len(todo)
    if len(todo) == LAUNCH_PREPARE_STEP:
        launch.save(update_fields=["prepared"])
        return True
    launch.prepared_at = timezone.now()
    people = Campaign.objects.filter(launch=launch).aggregate(n=Sum("people"))["n"] or 0
    audit_record(actor=AWARENESS_PROCESS, action="awareness.launch_prepared", obj=launch,
                 changes={"establishments": launch.prepared, "people": people})
    if launch.invite_requested_at is not None:
        launch.state = LaunchState.INVITING
        launch.save(update_fields=["prepared", "prepared_at", "state"])
        return True
    launch.state = LaunchState.READY
    launch.save(update_fields=["prepared", "prepared_at", "state"])
    return False


def _launch_invite_step(launch: CampaignLaunch) -> bool:
    """Invite the next campaign of a locked launch (key order, after `invite_cursor`), in
    the same transaction as the cursor moves; False once all are."""
    campaign = (launch.campaigns.select_related("establishment").filter(pk__gt=launch.invite_cursor)
                .order_by("pk").first())
    if campaign is None:
        launch.state = LaunchState.INVITED
        launch.invited_at = timezone.now()
        launch.save(update_fields=["state", "invited_at"])
        audit_record(actor=AWARENESS_PROCESS, action="awareness.launch_invited", obj=launch,
                     changes={"campaigns": launch.invited_campaigns, "people": launch.invited_people})
        transaction.on_commit(alerting.workers_wake)
        return False
    people = _invite(actor=AWARENESS_PROCESS, campaign=campaign, wake_workers=False)
    launch.invite_cursor = campaign.pk
    launch.invited_campaigns += 1 if people else 0
    launch.invited_people += people
    launch.save(update_fields=["invite_cursor", "invited_campaigns", "invited_people"])
    return True


def launch_step(*, launch_id: int) -> bool:
    """One part of a launch's work, in one transaction holding the launch's row: the next
    establishments' campaigns while preparing, the next campaign's invitations while
    inviting. Safe from several workers at once (they take turns) and after a crash (a
    step is kept whole or not at all). Returns True while work remains."""
    with transaction.atomic():
        launch = CampaignLaunch.objects.select_for_update(of=("self",)).select_related("group", "region").filter(
            pk=launch_id).first()
        if launch is None:
            return False
        if launch.state == LaunchState.PREPARING:
            return _launch_prepare_step(launch)
        if launch.state == LaunchState.INVITING:
            return _launch_invite_step(launch)
        return False


def launch_run(*, launch_id: int, seconds: float | None = None) -> bool:
    """Run the launch's steps for up to `seconds` (all of them when None); True if work
    remains (the caller queues the task again)."""
    stop = None if seconds is None else time.monotonic() + seconds
    while launch_step(launch_id=launch_id):
        if stop is not None and time.monotonic() >= stop:
            return True
    return False


def launch_run_if_small(*, launch_id: int) -> bool:
    """Run the launch's work at once when its scope has at most
    AWARENESS_LAUNCH_AT_ONCE_PEOPLE people (a few seconds); else leave it to the task.
    True when nothing is left."""
    launch = CampaignLaunch.objects.select_related("group", "region").get(pk=launch_id)
    if launch_people_over(launch, settings.AWARENESS_LAUNCH_AT_ONCE_PEOPLE):
        return False
    return not launch_run(launch_id=launch_id)


def launch_invite(*, actor: Actor, launch: CampaignLaunch) -> CampaignLaunch:
    """Ask for the invitations of every campaign of a launch, each establishment's through
    its own alerting campaign, to those not yet trained: written by `launch_step` (after
    the preparation when it is still going on); a later round invites those still not
    done. Refused while a round is being written."""
    rights.require_launch_awareness(actor, group=launch.group, region=launch.region)
    with transaction.atomic():
        locked = CampaignLaunch.objects.select_for_update().get(pk=launch.pk)
        if locked.state == LaunchState.INVITING or (
                locked.state == LaunchState.PREPARING and locked.invite_requested_at is not None):
            raise ValidationError(_("The invitations of this campaign are being sent already."))
        if locked.state != LaunchState.PREPARING and not Assignment.objects.filter(
                campaign__launch=locked, completed_at=None).exists():
            raise ValidationError(_("Everyone has completed their modules: there is nobody to invite."))
        locked.invite_requested_at = timezone.now()
        fields = ["invite_requested_at"]
        if locked.state != LaunchState.PREPARING:
            locked.state = LaunchState.INVITING
            locked.invite_cursor = locked.invited_campaigns = locked.invited_people = 0
            locked.invited_at = None
            fields += ["state", "invite_cursor", "invited_campaigns", "invited_people", "invited_at"]
        locked.save(update_fields=fields)
        audit_record(actor=actor, action="awareness.launch_invite", obj=locked, changes={"state": locked.state})
        transaction.on_commit(lambda: launch_wake(launch_id=locked.pk))
    return locked


# The task that runs a launch's steps, registered by the app (services never import it).
_launch_waker: Callable[..., None] | None = None


def launch_waker_register(waker: Callable[..., None]) -> None:
    global _launch_waker
    _launch_waker = waker


def launch_wake(*, launch_id: int) -> None:
    if _launch_waker is not None:
        _launch_waker(launch_id=launch_id)


def launches_unfinished() -> list[int]:
    """Launches with work left (a worker that died mid-way leaves them so)."""
    return list(CampaignLaunch.objects.filter(state__in=(LaunchState.PREPARING, LaunchState.INVITING))
                .order_by("pk").values_list("pk", flat=True))


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
    """Each person of the campaign with a module left, with their personal link. Read as
    plain rows and signed with one signer: a national campaign has a million links."""
    pending_ids = (
        Assignment.objects.filter(campaign=campaign, completed_at=None).order_by().values("person_id").distinct()
    )
    people = Person.objects.filter(pk__in=pending_ids).order_by("pk").values_list(
        "pk", "first_name", "last_name", "preferred_language", "email", "mobile_phone")
    # The address up to the token, resolved once.
    prefix = settings.ALERTING_PUBLIC_URL + reverse("awareness:learner_home", args=["-"])[:-2]
    signer = signing.TimestampSigner(salt=LINK_SALT)
    establishment_name = campaign.establishment.name
    return [
        alerting.RecipientInput(
            name=Person.name_of(first_name, last_name), language=language, email=email,
            mobile_phone=str(mobile or ""), establishment_name=establishment_name, person_id=pk,
            values={"link": f"{prefix}{signer.sign_object({'c': campaign.pk, 'p': pk}, compress=True)}/"},
        )
        for pk, first_name, last_name, language, email, mobile in people.iterator(chunk_size=5000)
    ]


def _invite(*, actor: Actor, campaign: Campaign, wake_workers: bool = True) -> int:
    recipients = _pending_recipients(campaign)
    if not recipients:
        return 0
    with transaction.atomic():
        alert = alerting.campaign_create(
            actor=actor, title=campaign.title, message_fr=INVITATION_FR, message_en=INVITATION_EN,
            recipients=recipients, channels=(campaign.channel,), establishment=campaign.establishment,
            wake_workers=wake_workers, priority=Priority.BULK,
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
                priority=Priority.BULK,
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
