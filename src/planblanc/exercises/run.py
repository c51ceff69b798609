"""The live run of an exercise (déroulé): services and selectors of the animator console,
the players' inbox and the observers, and the worker step that fires due injects.

The run's state is in our tables (exercises/models/run.py): a restarted worker reads where the run
was and carries on. Firing an inject is a conditional UPDATE pending→sent on its row
(unique idempotency key): of two workers, one wins and sends, the other sees no row
changed and does nothing. The UPDATE and the alert campaign are one transaction, so a
crash before the commit leaves the inject pending and nothing sent.

Channels: email, SMS and voice injects go through the alerting engine as an exercise
campaign (every message marked EXERCICE EXERCICE EXERCICE) to the target players;
oral, simulated phone call, fake press article and fake social-media post injects are
in-app only: they appear in the players' inbox (and the animator performs them)."""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from planblanc import rights
from planblanc.accounts.audit import audit_record, audit_record_many
from planblanc.actors import EXERCISE_RUNNER, Actor
from planblanc.crisis import services as crisis_services
from planblanc.exercises.models import (
    FEED_CHANNELS,
    Channel,
    EvaluationCriterion,
    Exercise,
    ExerciseRun,
    ExerciseStatus,
    Inject,
    InjectRun,
    InjectState,
    Observation,
    Participant,
    ParticipantRole,
    RunStatus,
)
from planblanc.tenancy import Perm, get_for_user, user_label

logger = logging.getLogger(__name__)

ALERT_CHANNELS = {Channel.EMAIL: "email", Channel.SMS: "sms", Channel.VOICE: "voice"}
MIN_SPEED, MAX_SPEED = 1, 10
# A dependent inject may go once the one it waits for was handled: taken in hand by the
# players, or taken out of the run by the animators.
UNBLOCKING_STATES = (InjectState.TAKEN, InjectState.SKIPPED, InjectState.EXCLUDED)


# ---------------------------------------------------------------------------- selectors


def exercise_for_run(*, user: Any, pk: Any) -> Exercise:
    """404 outside the user's scope (reading the establishment's directory is enough to
    see an exercise; each action checks its own right). A participant whose login holds
    no role there still reaches the exercise they take part in."""
    queryset = Exercise.objects.select_related("establishment")
    try:
        return get_for_user(user, queryset, Perm.VIEW_DIRECTORY, pk=pk)
    except Http404:
        if getattr(user, "is_authenticated", False):
            found = queryset.filter(pk=pk, participants__person__user=user).first()
            if found is not None:
                return found
        raise


def run_of(*, exercise: Exercise) -> ExerciseRun | None:
    return ExerciseRun.objects.filter(exercise=exercise).select_related("exercise", "crisis").first()


def inject_runs(*, run: ExerciseRun) -> QuerySet[InjectRun]:
    return (
        InjectRun.objects.filter(run=run).select_related("inject", "inject__animator")
        .prefetch_related("inject__dependencies").order_by(F("due_seconds").asc(nulls_last=True), "inject__number")
    )


def inbox(*, run: ExerciseRun, cell: str = "") -> list[InjectRun]:
    """What the players received, latest first, but the public feed's posts, calls and
    articles; a player of a cell sees what was sent to their cell or to everyone."""
    rows = (InjectRun.objects.filter(run=run, state__in=(InjectState.SENT, InjectState.TAKEN))
            .exclude(inject__channel__in=FEED_CHANNELS)  # the public feed shows those (exercises.media)
            .select_related("inject").prefetch_related("inject__files"))
    if cell:
        rows = rows.filter(Q(inject__target_cell="") | Q(inject__target_cell__iexact=cell))
    return list(rows.order_by("-fired_at", "-inject__number"))


@dataclass(frozen=True)
class Upcoming:
    row: InjectRun
    in_simulated_seconds: float
    in_real_seconds: float
    blocked_by: list[int]


def upcoming(*, run: ExerciseRun, now: datetime.datetime | None = None, limit: int = 5) -> list[Upcoming]:
    """The next pending injects with their countdown (simulated and real)."""
    now = now or timezone.now()
    sim = run.simulated_seconds(now)
    handled = _handled_inject_ids(run)
    result = []
    for row in inject_runs(run=run).filter(state=InjectState.PENDING, due_seconds__isnull=False)[: limit * 3]:
        left = max(0.0, (row.due_seconds or 0.0) - sim)
        blocked = sorted(d.number for d in row.inject.dependencies.all() if d.pk not in handled)
        result.append(Upcoming(row=row, in_simulated_seconds=left, in_real_seconds=left / max(run.speed, 1),
                               blocked_by=blocked))
    return result[:limit]


def _handled_inject_ids(run: ExerciseRun) -> set[int]:
    return set(InjectRun.objects.filter(run=run, state__in=UNBLOCKING_STATES).values_list("inject_id", flat=True))


# ---------------------------------------------------------------------------- run services


def _bump(run: ExerciseRun) -> None:
    ExerciseRun.objects.filter(pk=run.pk).update(revision=F("revision") + 1)


def _locked(run: ExerciseRun) -> ExerciseRun:
    fresh = ExerciseRun.objects.select_for_update().select_related("exercise").get(pk=run.pk)
    return fresh


def run_start(*, actor: Actor, exercise: Exercise, speed: int = 1, now: datetime.datetime | None = None) -> ExerciseRun:
    """Start the clock. Refused without an animator, without injects, or when the
    exercise was cancelled or already run."""
    rights.require_animate_run(actor, exercise)
    _check_speed(speed)
    if exercise.status in (ExerciseStatus.CANCELLED, ExerciseStatus.FINISHED):
        raise ValidationError(_("This exercise is cancelled or finished: it cannot be started."))
    if not exercise.participants.filter(role=ParticipantRole.ANIMATOR).exists():
        raise ValidationError(_("Add at least one animator to the participants before starting the exercise."),
                              code="no_animator")
    if not exercise.injects.exists():
        raise ValidationError(_("The exercise has no inject to send."), code="no_inject")
    now = now or timezone.now()
    with transaction.atomic():
        Exercise.objects.select_for_update().filter(pk=exercise.pk).first()
        existing = ExerciseRun.objects.filter(exercise=exercise).first()
        if existing is not None and existing.status != RunStatus.READY:
            raise ValidationError(_("This exercise has already been started."), code="started")
        run = existing or ExerciseRun(exercise=exercise)
        run.status, run.speed, run.started_at, run.anchor_at, run.sim_base = RunStatus.RUNNING, speed, now, now, 0.0
        run.started_by = actor if getattr(actor, "is_authenticated", False) else None
        run.crisis = crisis_services.exercise_crisis_open(
            actor=actor, establishment=exercise.establishment, title=exercise.title, now=now,
        )
        run.save()
        rows = []
        for inject in exercise.injects.all():
            due = inject.due_offset(exercise.planned_start)
            rows.append(InjectRun(
                run=run, inject=inject, due_seconds=due.total_seconds() if due is not None else None,
                idempotency_key=f"run{run.pk}:inject{inject.pk}",
                **({"state": InjectState.EXCLUDED} if inject.excluded else {}),
            ))
        InjectRun.objects.bulk_create(rows)
        Exercise.objects.filter(pk=exercise.pk).update(status=ExerciseStatus.RUNNING, updated_at=now)
        exercise.status = ExerciseStatus.RUNNING
        audit_record(actor=actor, action="exercise.run_start", obj=exercise, establishment=exercise.establishment,
                     changes={"speed": speed, "injects": len(rows), "crisis": run.crisis.pk})
        transaction.on_commit(wake_run_worker)
    return run


def _check_speed(speed: Any) -> None:
    if not isinstance(speed, int) or not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValidationError({"speed": _("The speed goes from ×1 to ×10.")})


def _rebase(run: ExerciseRun, now: datetime.datetime) -> None:
    run.sim_base = run.simulated_seconds(now)
    run.anchor_at = now


def run_pause(*, actor: Actor, run: ExerciseRun, now: datetime.datetime | None = None) -> ExerciseRun:
    rights.require_animate_run(actor, run.exercise)
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run)
        if run.status != RunStatus.RUNNING:
            raise ValidationError(_("Only a running exercise can be paused."))
        _rebase(run, now)
        run.status = RunStatus.PAUSED
        run.pauses = [*run.pauses, [now.isoformat(), None]]
        run.revision += 1
        run.save()
        Exercise.objects.filter(pk=run.exercise_id).update(status=ExerciseStatus.PAUSED)
        audit_record(actor=actor, action="exercise.run_pause", obj=run.exercise,
                     establishment=run.exercise.establishment, changes={"simulated_seconds": run.sim_base})
    return run


def run_resume(*, actor: Actor, run: ExerciseRun, now: datetime.datetime | None = None) -> ExerciseRun:
    rights.require_animate_run(actor, run.exercise)
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run)
        if run.status != RunStatus.PAUSED:
            raise ValidationError(_("Only a paused exercise can be resumed."))
        run.status = RunStatus.RUNNING
        run.anchor_at = now  # sim_base was frozen at the pause
        pauses = [list(p) for p in run.pauses]
        if pauses and pauses[-1][1] is None:
            pauses[-1][1] = now.isoformat()
        run.pauses = pauses
        run.revision += 1
        run.save()
        Exercise.objects.filter(pk=run.exercise_id).update(status=ExerciseStatus.RUNNING)
        audit_record(actor=actor, action="exercise.run_resume", obj=run.exercise,
                     establishment=run.exercise.establishment)
        transaction.on_commit(wake_run_worker)
    return run


def run_set_speed(*, actor: Actor, run: ExerciseRun, speed: int, now: datetime.datetime | None = None) -> ExerciseRun:
    """Change the speed from now on: the simulated time reached so far is kept."""
    rights.require_animate_run(actor, run.exercise)
    _check_speed(speed)
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run)
        if run.status == RunStatus.FINISHED:
            raise ValidationError(_("This exercise is finished."))
        before = run.speed
        _rebase(run, now)
        run.speed = speed
        run.revision += 1
        run.save()
        audit_record(actor=actor, action="exercise.run_speed", obj=run.exercise,
                     establishment=run.exercise.establishment, changes={"speed": [before, speed]})
        transaction.on_commit(wake_run_worker)
    return run


def run_finish(*, actor: Actor, run: ExerciseRun, now: datetime.datetime | None = None) -> ExerciseRun:
    """End of the exercise: what was not sent stays unsent (skipped), the exercise
    crisis is closed, and the exercise counts for the yearly obligation."""
    rights.require_animate_run(actor, run.exercise)
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run)
        if run.status == RunStatus.FINISHED:
            raise ValidationError(_("This exercise is already finished."))
        if run.status == RunStatus.READY:
            raise ValidationError(_("This exercise has not started."))
        _rebase(run, now)
        pauses = [list(p) for p in run.pauses]
        if pauses and pauses[-1][1] is None:
            pauses[-1][1] = now.isoformat()
        run.pauses = pauses
        run.status, run.finished_at = RunStatus.FINISHED, now
        run.revision += 1
        run.save()
        left = InjectRun.objects.filter(run=run, state=InjectState.PENDING).update(
            state=InjectState.SKIPPED, note=_("Not sent before the end of the exercise."))
        Exercise.objects.filter(pk=run.exercise_id).update(status=ExerciseStatus.FINISHED, updated_at=now)
        if run.crisis is not None:
            crisis_services.exercise_crisis_close(actor=actor, crisis=run.crisis, now=now)
        audit_record(actor=actor, action="exercise.run_finish", obj=run.exercise,
                     establishment=run.exercise.establishment, changes={"unsent": left})
    return run


# ---------------------------------------------------------------------------- injects


def _recipients(exercise: Exercise, inject: Inject) -> list[Any]:
    from planblanc.alerting.services import recipients_from_people

    players = Participant.objects.filter(exercise=exercise, role=ParticipantRole.PLAYER).select_related("person")
    if inject.target_cell:
        targeted = [p for p in players if p.cell.strip().lower() == inject.target_cell.strip().lower()]
        players_list = targeted or list(players)
    else:
        players_list = list(players)
    return recipients_from_people([p.person for p in players_list], establishment_name=exercise.establishment.name)


def _literal(text: str) -> str:
    # Campaign messages are templates with {variables}: an inject's text is literal.
    return str(text or "").replace("{", "{{").replace("}", "}}")


def _deliver(row: InjectRun, run: ExerciseRun) -> Any:
    """Hand an inject to the alerting engine (email, SMS, voice), or keep it in-app."""
    from planblanc.alerting.services import campaign_create

    inject = row.inject
    channel = ALERT_CHANNELS.get(inject.channel)  # type: ignore[call-overload]
    if channel is None:
        return None
    recipients = _recipients(run.exercise, inject)
    if not recipients:
        return None
    body = inject.content or inject.subject
    if inject.sender:
        body = _("From: %(sender)s") % {"sender": inject.sender} + "\n\n" + body
    return campaign_create(
        actor=EXERCISE_RUNNER, title=_literal(f"#{inject.number} {inject.subject}".strip())[:200],
        message_fr=_literal(body), recipients=recipients, channels=(channel,),
        establishment=run.exercise.establishment, is_exercise=True,
    )


def _due_real_at(run: ExerciseRun, due_seconds: float | None, now: datetime.datetime) -> datetime.datetime:
    if due_seconds is None or run.anchor_at is None or run.status != RunStatus.RUNNING:
        return now
    if due_seconds < run.sim_base:
        return run.anchor_at
    return run.anchor_at + datetime.timedelta(seconds=(due_seconds - run.sim_base) / max(run.speed, 1))


def inject_fire(
    *, actor: Actor, row: InjectRun, now: datetime.datetime | None = None, by_hand: bool = True,
) -> bool:
    """Send one inject now. Returns False when it had already left its pending state
    (sent by someone else, skipped, excluded): nothing is sent twice."""
    run = row.run
    if by_hand:
        rights.require_animate_run(actor, run.exercise)
        if run.status not in (RunStatus.RUNNING, RunStatus.PAUSED):
            raise ValidationError(_("Start the exercise before sending injects."))
    now = now or timezone.now()
    with transaction.atomic():
        if by_hand:
            run = ExerciseRun.objects.select_related("exercise__establishment").get(pk=run.pk)
        # (The worker passes the run it has just read with its establishment.)
        sim = run.simulated_seconds(now)
        label = user_label(actor) if by_hand else _("Schedule")
        if not by_hand:
            # Another worker holds this row: leave it to them rather than queue behind them
            # (SKIP LOCKED on PostgreSQL; SQLite serialises writers anyway).
            claim = InjectRun.objects.select_for_update(skip_locked=True).filter(pk=row.pk, state=InjectState.PENDING)
            if not list(claim.values_list("pk", flat=True)):
                return False
        values: dict[str, Any] = {
            "state": InjectState.SENT, "fired_at": now, "fired_sim_seconds": sim, "fired_by_label": label[:200],
            "due_real_at": now if by_hand else _due_real_at(run, row.due_seconds, now),
        }
        won = InjectRun.objects.filter(pk=row.pk, state=InjectState.PENDING).update(**values)
        if not won:
            return False
        for name, value in values.items():
            setattr(row, name, value)
        row.run = run
        campaign = _deliver(row, run)
        if campaign is not None:
            InjectRun.objects.filter(pk=row.pk).update(campaign=campaign)
            row.campaign = campaign
        _bump(run)
        audit_record(
            actor=actor if by_hand else EXERCISE_RUNNER, action="exercise.inject_fire", obj=row.inject,
            establishment=run.exercise.establishment,
            changes={"number": row.inject.number, "channel": row.inject.channel, "by_hand": by_hand,
                     "campaign": campaign.pk if campaign is not None else None, "simulated_seconds": round(sim, 1)},
        )
    return True


def _set_state(
    *, actor: Actor, row: InjectRun, to: Any, allowed_from: tuple[Any, ...], action: str, note: str | None = None,
    now: datetime.datetime | None = None,
) -> InjectRun:
    now = now or timezone.now()
    with transaction.atomic():
        values: dict[str, Any] = {"state": to}
        if to == InjectState.TAKEN:
            values["taken_at"] = now
        if note is not None:
            values["note"] = note
        changed = InjectRun.objects.filter(pk=row.pk, state__in=allowed_from).update(**values)
        if not changed:
            current = InjectRun.objects.get(pk=row.pk)
            raise ValidationError(
                _("Inject %(number)s is %(state)s: this cannot be done now.")
                % {"number": row.inject.number, "state": current.get_state_display().lower()}
            )
        _bump(row.run)
        audit_record(actor=actor, action=action, obj=row.inject, establishment=row.run.exercise.establishment,
                     changes={"number": row.inject.number, "state": to})
    row.refresh_from_db()
    return row


def inject_skip(*, actor: Actor, row: InjectRun, note: str = "") -> InjectRun:
    """Not sent, by the animators' choice; its expected reactions still count."""
    rights.require_animate_run(actor, row.run.exercise)
    return _set_state(actor=actor, row=row, to=InjectState.SKIPPED, allowed_from=(InjectState.PENDING,),
                      action="exercise.inject_skip", note=note or None)


def inject_exclude(*, actor: Actor, row: InjectRun, note: str = "") -> InjectRun:
    """Out of the exercise and out of the evaluation's denominator."""
    rights.require_animate_run(actor, row.run.exercise)
    return _set_state(actor=actor, row=row, to=InjectState.EXCLUDED,
                      allowed_from=(InjectState.PENDING, InjectState.SENT, InjectState.TAKEN, InjectState.SKIPPED),
                      action="exercise.inject_exclude", note=note or None)


def inject_take_in_hand(*, actor: Actor, row: InjectRun, now: datetime.datetime | None = None) -> InjectRun:
    if not rights.may_play_run(actor, row.run.exercise):
        raise PermissionDenied(_("Only participants take injects in hand."))
    return _set_state(actor=actor, row=row, to=InjectState.TAKEN, allowed_from=(InjectState.SENT,),
                      action="exercise.inject_take", now=now)


def inject_set_note(*, actor: Actor, row: InjectRun, note: str) -> InjectRun:
    rights.require_animate_run(actor, row.run.exercise)
    note = (note or "").strip()
    if len(note) > 5000:
        raise ValidationError({"note": _("At most %(max)d characters.") % {"max": 5000}})
    with transaction.atomic():
        InjectRun.objects.filter(pk=row.pk).update(note=note)
        _bump(row.run)
        audit_record(actor=actor, action="exercise.inject_note", obj=row.inject,
                     establishment=row.run.exercise.establishment, changes={"number": row.inject.number})
    row.refresh_from_db()
    return row


# ---------------------------------------------------------------------------- observers


def observation_add(
    *, actor: Actor, run: ExerciseRun, text: str, inject: Inject | None = None,
    criterion: EvaluationCriterion | None = None, now: datetime.datetime | None = None,
) -> Observation:
    exercise = run.exercise
    if not rights.may_observe_run(actor, exercise):
        raise PermissionDenied(_("Only observers and animators write observations."))
    text = (text or "").strip()
    errors: dict[str, list[Any]] = {}
    if not text:
        errors["text"] = [_("Write the observation.")]
    if inject is not None and inject.exercise_id != exercise.pk:
        errors["inject"] = [_("This inject belongs to another exercise.")]
    if criterion is not None and criterion.exercise_id != exercise.pk:
        errors["criterion"] = [_("This criterion belongs to another exercise.")]
    if run.status == RunStatus.READY:
        errors.setdefault("text", []).append(_("The exercise has not started."))
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    with transaction.atomic():
        observation = Observation.objects.create(
            run=run, inject=inject, criterion=criterion, text=text, at=now, sim_seconds=run.simulated_seconds(now),
            author_label=user_label(actor)[:200],
        )
        audit_record(actor=actor, action="exercise.observation_add", obj=observation,
                     establishment=exercise.establishment)
    return observation


# ---------------------------------------------------------------------------- worker step


def _due_rows(runs: list[ExerciseRun], now: datetime.datetime) -> list[InjectRun]:
    """Pending injects due in these runs whose dependencies were handled, earliest
    first; three queries whatever the number of runs (the worker polls often)."""
    sims = {run.pk: run.simulated_seconds(now) for run in runs}
    if not sims:
        return []
    candidates = list(
        InjectRun.objects.filter(run_id__in=sims, state=InjectState.PENDING, due_seconds__lte=max(sims.values()))
        .select_related("inject").order_by("due_seconds", "pk")
    )
    candidates = [row for row in candidates if (row.due_seconds or 0.0) <= sims[row.run_id]]
    if not candidates:
        return []
    through = Inject.dependencies.through
    waits: dict[int, list[int]] = {}
    for from_id, to_id in through.objects.filter(from_inject_id__in=[r.inject_id for r in candidates]).values_list(
        "from_inject_id", "to_inject_id"
    ):
        waits.setdefault(from_id, []).append(to_id)
    handled: set[int] = set()
    if waits:
        handled = set(InjectRun.objects.filter(run_id__in=sims, state__in=UNBLOCKING_STATES).values_list(
            "inject_id", flat=True))
    return [row for row in candidates if all(d in handled for d in waits.get(row.inject_id, ()))]


# Due injects fired together in one transaction by the worker (a regional exercise
# brings hundreds due at the same instant: one commit each would make the last wait).
FIRE_BATCH = 100


def _fire_batch(rows: list[InjectRun], now: datetime.datetime | None) -> int:
    """Fire these due injects in one transaction, exactly as inject_fire does one by one
    (same row values, campaign and audit entry each). The claim is the same conditional
    UPDATE pending→sent, tagged with a token to know which rows this worker won (on
    PostgreSQL, rows another worker holds are skipped first)."""
    with transaction.atomic():
        ids = [row.pk for row in rows]
        if connection.features.has_select_for_update_skip_locked:
            ids = list(InjectRun.objects.select_for_update(skip_locked=True).filter(
                pk__in=ids, state=InjectState.PENDING).values_list("pk", flat=True))
        if not ids:
            return 0
        fired_at = now or timezone.now()
        token = f"claim:{uuid.uuid4().hex}"
        InjectRun.objects.filter(pk__in=ids, state=InjectState.PENDING).update(
            state=InjectState.SENT, fired_at=fired_at, fired_by_label=token)
        won = set(InjectRun.objects.filter(pk__in=ids, fired_by_label=token).values_list("pk", flat=True))
        label = _("Schedule")[:200]
        fired: list[InjectRun] = []
        audits: list[tuple[Any, Any, dict[str, Any]]] = []
        for row in rows:
            if row.pk not in won:
                continue
            run = row.run
            sim = run.simulated_seconds(fired_at)
            row.state, row.fired_at, row.fired_by_label = InjectState.SENT, fired_at, label
            row.fired_sim_seconds, row.due_real_at = sim, _due_real_at(run, row.due_seconds, fired_at)
            campaign = _deliver(row, run)
            row.campaign = campaign
            fired.append(row)
            audits.append((row.inject, run.exercise.establishment, {
                "number": row.inject.number, "channel": row.inject.channel, "by_hand": False,
                "campaign": campaign.pk if campaign is not None else None, "simulated_seconds": round(sim, 1)}))
        audit_record_many(actor=EXERCISE_RUNNER, action="exercise.inject_fire", items=audits)
        InjectRun.objects.bulk_update(fired, ["fired_by_label", "fired_sim_seconds", "due_real_at", "campaign"])
        ExerciseRun.objects.filter(pk__in={row.run_id for row in fired}).update(revision=F("revision") + 1)
    return len(fired)


def runs_process(*, now: datetime.datetime | None = None) -> int:
    """Fire every inject that is due in a running exercise and whose dependencies were
    handled. Safe to run in several workers at once. Returns the number sent here."""
    sent = 0
    runs = {run.pk: run for run in ExerciseRun.objects.filter(status=RunStatus.RUNNING).select_related(
        "exercise__establishment")}
    due = _due_rows(list(runs.values()), now or timezone.now())
    for start in range(0, len(due), FIRE_BATCH):
        batch = due[start:start + FIRE_BATCH]
        for row in batch:
            row.run = runs[row.run_id]
        try:
            sent += _fire_batch(batch, now)
            continue
        except Exception:  # one broken inject must not stop the others: one by one
            logger.exception("could not fire a batch of %d injects; firing them one by one", len(batch))
        for row in batch:
            try:
                if inject_fire(actor=EXERCISE_RUNNER, row=row, now=now, by_hand=False):
                    sent += 1
            except Exception:
                logger.exception("could not fire inject %s", row.pk)
    return sent


def next_due_at(*, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """The real time at which the next inject of a running exercise falls due."""
    now = now or timezone.now()
    best: datetime.datetime | None = None
    for run in ExerciseRun.objects.filter(status=RunStatus.RUNNING):
        sim = run.simulated_seconds(now)
        due = (InjectRun.objects.filter(run=run, state=InjectState.PENDING, due_seconds__isnull=False)
               .order_by("due_seconds").values_list("due_seconds", flat=True).first())
        if due is None:
            continue
        at = now + datetime.timedelta(seconds=max(0.0, due - sim) / max(run.speed, 1))
        best = at if best is None or at < best else best
    return best


# The queue of the live runs' worker step: each `planblanc worker` serves it in a loop
# of its own, so that injects fire on time whatever else is queued.
EXERCISES_QUEUE = "exercises"


@task(queue_name=EXERCISES_QUEUE)
def exercise_runs_process() -> int:
    """Thin task: fire what is due, then queue the next wake-up while a run is live."""
    sent = runs_process()
    if ExerciseRun.objects.filter(status=RunStatus.RUNNING).exists():
        due = next_due_at()
        # Dependencies wait for players: look again soon even when nothing is due.
        soon = timezone.now() + datetime.timedelta(seconds=2)
        wake_run_worker(run_after=min(due, soon) if due else soon)
    return sent


def wake_run_worker_if_live() -> None:
    """At a worker's start: exercises left running by a worker that died carry on."""
    if ExerciseRun.objects.filter(status=RunStatus.RUNNING).exists():
        wake_run_worker()


def wake_run_worker(run_after: datetime.datetime | None = None) -> None:
    """Queue one wake-up of the run worker, unless one is already queued for earlier."""
    try:
        from django_tasks_db.models import DBTaskResult

        path = f"{exercise_runs_process.func.__module__}.{exercise_runs_process.func.__qualname__}"
        queued = DBTaskResult.objects.filter(task_path=path, status="READY")
        if run_after is None:
            if queued.filter(run_after__lte=timezone.now()).exists():
                return
            exercise_runs_process.enqueue()
        else:
            if queued.filter(run_after__lte=run_after).exists():
                return
            exercise_runs_process.using(run_after=run_after).enqueue()
    except Exception:  # the state is in the tables; the next wake-up picks it up
        logger.exception("could not enqueue the exercise run task")
