"""Regional simultaneous exercises: one scenario launched at the same moment in several
establishments by a regional officer (ARS) or a group CISO (GHT), followed and steered
from one console, compared in one report.

Each establishment gets an ordinary exercise of its own (scenario copied with its
variables filled in, its own run, players, observers, evaluation; it counts for its
yearly obligation like any exercise). The regional services check the officer's right
over the regional exercise (rights.py), then act on every establishment's exercise
through the ordinary exercise services as the process `regional_exercise_runner`,
which names the officer in every audit entry. The worker that fires injects is the
ordinary one (exercises.run): a regional exercise is N runs sharing one start instant.

Preparing hundreds of exercises takes a while (a scenario of 40 injects written for
each establishment): the request only checks the choice and records it ("being
prepared", one row per establishment); the task `regional_exercise_prepare`
(below) writes each establishment's exercise in a transaction of its own,
and the console shows how many are done. An establishment whose preparation fails
keeps its reason and is left out of the launch, like one with no animator named: the
others, planned for the same day, go ahead; it can be prepared again before the launch.

Variables in a scenario's texts (subject, content, sender, comments, expected
reactions, scenario and title): {etablissement}, {directeur}, {voisins}, {ville},
{finess}. Other text in braces is left as written."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor, SystemActor, regional_exercise_runner
from planblanc.core.anonymity import THRESHOLD, anonymised
from planblanc.directory.models import Establishment, Function, Membership
from planblanc.exercises import chronogramme as chrono
from planblanc.exercises import run as run_services
from planblanc.exercises import services
from planblanc.exercises.kits import kit_get
from planblanc.exercises.models import (
    Exercise,
    ExerciseRun,
    InjectRun,
    InjectState,
    RegionalExercise,
    RegionalExerciseStatus,
    RegionalMember,
    RunStatus,
)
from planblanc.tenancy import Perm, scope_for

logger = logging.getLogger(__name__)
VARIABLES = ("etablissement", "directeur", "voisins", "ville", "finess")
_VARIABLE = re.compile(r"\{(" + "|".join(VARIABLES) + r")\}")
MAX_NEIGHBOURS = 3
# The clocks of all runs start together this long after the last run is opened, the time
# to commit the launch: the time spent opening them one after the other is not lag.
LAUNCH_MARGIN = 1.0


# ---------------------------------------------------------------------------- variables


def establishment_variables(*, establishment: Establishment) -> dict[str, str]:
    """The values of the variables for one establishment: its name, city and FINESS, its
    director (a person holding the director function there, else the deputy), and up to
    three neighbours (the group's other establishments, else those of its département)."""
    director = (
        Membership.objects.filter(establishment=establishment, function=Function.DIRECTOR)
        .select_related("person").first()
        or Membership.objects.filter(establishment=establishment, function=Function.DEPUTY_DIRECTOR)
        .select_related("person").first()
    )
    others = Establishment.objects.filter(region_id=establishment.region_id).exclude(pk=establishment.pk)
    neighbours: list[str] = []
    if establishment.group_id is not None:
        neighbours = list(others.filter(group_id=establishment.group_id).order_by("name")
                          .values_list("name", flat=True)[:MAX_NEIGHBOURS])
    if not neighbours and establishment.finess:
        neighbours = list(others.filter(finess__startswith=establishment.finess[:2]).order_by("name")
                          .values_list("name", flat=True)[:MAX_NEIGHBOURS])
    person = director.person if director is not None else None
    return {
        "etablissement": establishment.name,
        "directeur": (f"{person.first_name} {person.last_name}".strip() if person is not None
                      else _("the director")),
        "voisins": ", ".join(neighbours) if neighbours else _("the neighbouring establishments"),
        "ville": establishment.city or establishment.name,
        "finess": establishment.finess,
    }


def fill_variables(text: str, values: dict[str, str]) -> str:
    """Replace the known variables; anything else in braces stays as written."""
    if not text or "{" not in text:
        return text
    return _VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _filled(parsed: chrono.Chronogramme, values: dict[str, str]) -> chrono.Chronogramme:
    """A copy of the scenario with the variables filled in. Shallow copies of each inject
    and reaction (a deep copy of the scenario for each of hundreds of establishments was
    a good part of the preparation): the files' bytes are shared, never changed."""
    def fill(item: chrono.ParsedInject) -> chrono.ParsedInject:
        filled: dict[str, Any] = {name: fill_variables(getattr(item, name), values) for name in _FILLED}
        return dataclasses.replace(
            item, **filled, dependencies=list(item.dependencies), files=list(item.files),
            expected_reactions=[dataclasses.replace(reaction, description=fill_variables(reaction.description, values))
                                for reaction in item.expected_reactions])
    return dataclasses.replace(parsed, injects=[fill(item) for item in parsed.injects])


_FILLED = ("subject", "content", "sender", "comment", "target_role", "deliverable")


# ---------------------------------------------------------------------------- selectors


def regional_exercise_list(*, user: Any) -> QuerySet[RegionalExercise]:
    """The regional exercises of the user's regions and groups (national: all)."""
    scope = scope_for(user, Perm.RUN_REGIONAL_EXERCISE)
    queryset = RegionalExercise.objects.select_related("region", "group").annotate(
        member_count=Count("members"))
    if scope.national:
        return queryset
    if not (scope.region_ids or scope.group_ids):
        return queryset.none()
    return queryset.filter(Q(region_id__in=scope.region_ids) | Q(group_id__in=scope.group_ids))


def regional_exercise_get_for_user(*, user: Any, pk: Any) -> RegionalExercise:
    """404 outside the user's scope, as for any tenant's data."""
    try:
        return regional_exercise_list(user=user).get(pk=pk)
    except (RegionalExercise.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def launchable_establishments(*, user: Any) -> QuerySet[Establishment]:
    """The establishments the user may include in a regional exercise."""
    if not rights.may_run_regional_exercises_somewhere(user):
        return Establishment.objects.none()
    return Establishment.objects.visible_to(user, Perm.RUN_REGIONAL_EXERCISE).select_related("region", "group")


def model_exercises(*, user: Any) -> QuerySet[Exercise]:
    """Exercises the user may take as the model scenario of a regional exercise."""
    return Exercise.objects.visible_to(user).filter(injects__isnull=False).distinct().select_related(
        "establishment").order_by("-updated_at")


@dataclass
class MemberProgress:
    member: RegionalMember
    run: ExerciseRun | None
    total: int = 0
    fired: int = 0
    # Pending injects whose due time has passed, and how late the oldest of them is.
    overdue: int = 0
    late_seconds: float = 0.0
    # Worst and last lag between an inject's due time and its firing.
    max_lag_seconds: float | None = None
    next_due_in: float | None = None

    @property
    def percent(self) -> int:
        return round(100 * self.fired / self.total) if self.total else 0

    @property
    def status(self) -> str:
        if self.member.exercise_id is None:
            return "failed" if self.member.error else "preparing"
        return self.run.status if self.run is not None else "ready"


@dataclass
class RegionalProgress:
    regional: RegionalExercise
    rows: list[MemberProgress]
    now: datetime.datetime
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def fired(self) -> int:
        return sum(r.fired for r in self.rows)

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)

    @property
    def overdue(self) -> int:
        return sum(r.overdue for r in self.rows)

    @property
    def late_seconds(self) -> float:
        return max((r.late_seconds for r in self.rows), default=0.0)

    @property
    def max_lag_seconds(self) -> float | None:
        lags = [r.max_lag_seconds for r in self.rows if r.max_lag_seconds is not None]
        return max(lags) if lags else None

    @property
    def percent(self) -> int:
        return round(100 * self.fired / self.total) if self.total else 0

    @property
    def members_total(self) -> int:
        return len(self.rows)

    @property
    def members_prepared(self) -> int:
        """Establishments whose exercise is written (the preparation's progress)."""
        return sum(1 for r in self.rows if r.member.exercise_id is not None)

    @property
    def members_failed(self) -> list[RegionalMember]:
        """Establishments whose preparation failed, with the reason, by name."""
        return sorted((r.member for r in self.rows if r.member.exercise_id is None and r.member.error),
                      key=lambda m: m.establishment.name)

    @property
    def preparation_percent(self) -> int:
        return 100 * self.members_prepared // self.members_total if self.members_total else 0

    @property
    def status_counts(self) -> list[tuple[str, str, int]]:
        """(status, label in the user's language, number of runs)."""
        labels = {"ready": _("Not started"), "preparing": _("Being prepared"), "failed": _("Preparation failed"),
                  **dict(RunStatus.choices)}
        return [(status, str(labels.get(status, status)), count) for status, count in sorted(self.by_status.items())]


def regional_progress(*, regional: RegionalExercise, now: datetime.datetime | None = None) -> RegionalProgress:
    """Every establishment's run with its progress and lag, the latest first: four
    queries whatever the number of establishments (the console polls this)."""
    now = now or timezone.now()
    members = list(RegionalMember.objects.filter(regional=regional).select_related(
        "establishment", "exercise", "exercise__run"))
    runs: dict[int, ExerciseRun] = {}
    run_of: dict[int, ExerciseRun] = {}
    for member in members:
        if member.exercise is not None and _has_run(member.exercise):
            run = member.exercise.run
            run.exercise = member.exercise
            runs[run.pk] = run
            run_of[member.pk] = run
    stats: dict[int, dict[str, Any]] = {}
    lag = ExpressionWrapper(F("fired_at") - F("due_real_at"), output_field=DurationField())
    for item in (
        InjectRun.objects.filter(run_id__in=runs).values("run_id").annotate(
            total=Count("pk", filter=~Q(state=InjectState.EXCLUDED)),
            fired=Count("pk", filter=Q(state__in=(InjectState.SENT, InjectState.TAKEN))),
            max_lag=Max(lag, filter=Q(fired_at__isnull=False, due_real_at__isnull=False)),
        ).order_by()
    ):
        stats[item["run_id"]] = item
    sims = {pk: run.simulated_seconds(now) for pk, run in runs.items()}
    pending: dict[int, list[float]] = {}
    if sims:
        for run_id, due in InjectRun.objects.filter(
            run_id__in=runs, state=InjectState.PENDING, due_seconds__isnull=False,
        ).values_list("run_id", "due_seconds"):
            pending.setdefault(run_id, []).append(due)
    rows = []
    by_status: dict[str, int] = {}
    for member in members:
        run = run_of.get(member.pk)
        row = MemberProgress(member=member, run=run)
        if run is not None:
            item = stats.get(run.pk, {})
            row.total, row.fired = item.get("total", 0), item.get("fired", 0)
            max_lag = item.get("max_lag")
            row.max_lag_seconds = max(0.0, max_lag.total_seconds()) if max_lag is not None else None
            sim = sims[run.pk]
            dues = pending.get(run.pk, [])
            overdue = [d for d in dues if d <= sim]
            row.overdue = len(overdue)
            if overdue and run.status == RunStatus.RUNNING:
                row.late_seconds = (sim - min(overdue)) / max(run.speed, 1)
            future = [d for d in dues if d > sim]
            if future:
                row.next_due_in = (min(future) - sim) / max(run.speed, 1)
        by_status[row.status] = by_status.get(row.status, 0) + 1
        rows.append(row)
    rows.sort(key=lambda r: (-r.late_seconds, -r.overdue, r.member.establishment.name))
    return RegionalProgress(regional=regional, rows=rows, now=now, by_status=by_status)


def _has_run(exercise: Exercise) -> bool:
    try:
        exercise.run  # noqa: B018 (the reverse one-to-one raises when there is none)
    except ExerciseRun.DoesNotExist:
        return False
    return True


# ---------------------------------------------------------------------------- services


def _runner_name(actor: Actor) -> str:
    return actor.get_username() if not isinstance(actor, SystemActor) else actor.label


def _runner(actor: Actor) -> SystemActor:
    return regional_exercise_runner(_runner_name(actor))


def regional_exercise_create(
    *,
    actor: Actor,
    title: str,
    establishments: list[Establishment],
    planned_start: datetime.datetime,
    kit_slug: str = "",
    model: Exercise | None = None,
    speed: int = 1,
    submission_key: str = "",
) -> RegionalExercise:
    """Check the choice (establishments of one region within the actor's scope, a
    playable scenario) and record it, one row per establishment, in state "preparing";
    each establishment's exercise is written afterwards by the task
    `regional_exercise_prepare` (regional_preparation_run), queued at the commit.

    `submission_key` is the form's one-time key: the same key from the same actor gives
    back the regional exercise it created, so a form submitted twice creates one."""
    if not rights.may_run_regional_exercises_somewhere(actor):
        raise PermissionDenied(_("You are not allowed to run regional exercises."))
    submission_key = (submission_key or "")[:64] if getattr(actor, "is_authenticated", False) else ""
    if submission_key:
        existing = RegionalExercise.objects.filter(created_by=actor, submission_key=submission_key).first()
        if existing is not None:
            return existing
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Give the regional exercise a title.")]
    establishments = list({e.pk: e for e in establishments}.values())
    if not establishments:
        errors["establishments"] = [_("Choose at least one establishment.")]
    refused = [e.name for e in establishments if not rights.may_launch_regional_exercise(actor, e)]
    if refused:
        raise ValidationError({"establishments": _("You may not include: %(names)s.")
                               % {"names": ", ".join(sorted(refused))}})
    if len({e.region_id for e in establishments}) > 1:
        errors["establishments"] = [_("A regional exercise gathers establishments of one region.")]
    if not isinstance(speed, int) or not run_services.MIN_SPEED <= speed <= run_services.MAX_SPEED:
        errors["speed"] = [_("The speed goes from ×1 to ×10.")]
    if bool(kit_slug) == (model is not None):
        errors["kit_slug"] = [_("Choose a kit or a model exercise.")]
    data: dict[str, Any] | None = None
    source_label, level, scenario, objectives = "", "beginner", "", ""
    offsets: dict[str, float] = {}
    if kit_slug:
        kit = kit_get(kit_slug)
        if kit is None:
            errors["kit_slug"] = [_("Unknown kit “%(slug)s”.") % {"slug": kit_slug}]
        else:
            data, source_label, level = kit.as_chronogramme(), kit.title, kit.level
            scenario = kit.scenario
            objectives = "\n".join(f"- {objective}" for objective in kit.objectives)
    elif model is not None:
        if not Exercise.objects.visible_to(actor).filter(pk=model.pk).exists():
            raise Http404
        data, source_label, level = chrono.export_json(model), model.title, model.maturity_level
        scenario, objectives = model.scenario, model.objectives
        # The JSON document counts whole minutes: keep the model's times to the second.
        offsets = {str(number): offset.total_seconds()
                   for number, offset in model.injects.values_list("number", "offset") if offset is not None}
    if errors:
        raise ValidationError(errors)
    assert data is not None  # noqa: S101 (set above when there is no error)
    parsed = chrono.read_json(data)
    if parsed.errors or not parsed.injects:
        raise ValidationError(_("The scenario holds no inject that can be played."))
    region_id = establishments[0].region_id
    scope = scope_for(actor, Perm.RUN_REGIONAL_EXERCISE)
    groups = {e.group_id for e in establishments}
    group_id = None
    if not scope.national and region_id not in scope.region_ids and len(groups) == 1:
        group_id = next(iter(groups))
    preparation = {
        "chronogramme": data, "offsets": offsets, "level": level, "scenario": scenario, "objectives": objectives,
        "language": translation.get_language() or "", "runner": _runner_name(actor),
    }
    try:
        with transaction.atomic():
            regional = RegionalExercise.objects.create(
                region_id=region_id, group_id=group_id, title=title[:200], kit_slug=kit_slug,
                source_label=source_label[:300], planned_start=planned_start, speed=speed,
                status=RegionalExerciseStatus.PREPARING, preparation=preparation, submission_key=submission_key,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            RegionalMember.objects.bulk_create(
                RegionalMember(regional=regional, establishment=establishment)
                for establishment in sorted(establishments, key=lambda e: e.name))
            audit_record(actor=actor, action="exercise.regional_create", obj=regional, changes={
                "establishments": len(establishments), "source": source_label, "injects": len(parsed.injects),
                "planned_start": planned_start.isoformat(), "speed": speed})
            transaction.on_commit(functools.partial(regional_preparation_wake, regional_id=regional.pk))
    except IntegrityError:
        # The same form submitted twice at the same moment: the other request created it.
        existing = RegionalExercise.objects.filter(created_by=actor, submission_key=submission_key).first()
        if not submission_key or existing is None:
            raise
        return existing
    return regional


# ------------------------------------------------------------------------- preparation


def regional_preparation_wake(*, regional_id: int) -> None:
    """Queue the preparation of a regional exercise, unless it is queued already. A
    failure to queue loses nothing: the state is in the tables, and every worker queues
    the preparations left unfinished when it starts."""
    from django_tasks_db.models import DBTaskResult

    try:
        queued = DBTaskResult.objects.filter(status="READY", task_path=regional_exercise_prepare.module_path,
                                             args_kwargs__kwargs__regional_id=regional_id)
        if not queued.exists():
            regional_exercise_prepare.enqueue(regional_id=regional_id)
    except Exception:
        logger.exception("could not queue the preparation of regional exercise %s", regional_id)


# On the default queue, not the exercises' one: writing hundreds of exercises must never
# hold up the injects of an exercise being played. Defined here, beside its body, as the
# live runs' worker step is in exercises.run.
@task()
def regional_exercise_prepare(regional_id: int) -> int:
    """Thin task: write the exercise of each establishment not prepared yet."""
    return regional_preparation_run(regional_id=regional_id)


def regional_preparations_wake() -> int:
    """At a worker's start: preparations left unfinished (a worker stopped mid-way)
    carry on. Returns how many were looked at."""
    ids = list(RegionalExercise.objects.filter(status=RegionalExerciseStatus.PREPARING).values_list("pk", flat=True))
    for pk in ids:
        regional_preparation_wake(regional_id=pk)
    return len(ids)


def _scenario(regional: RegionalExercise) -> chrono.Chronogramme:
    parsed = chrono.read_json(regional.preparation.get("chronogramme"))
    offsets = regional.preparation.get("offsets") or {}
    for item in parsed.injects:
        if str(item.number) in offsets:
            item.offset = datetime.timedelta(seconds=offsets[str(item.number)])
    return parsed


def _member_prepare(*, regional: RegionalExercise, member: RegionalMember, parsed: chrono.Chronogramme,
                    runner: SystemActor) -> Exercise:
    establishment = member.establishment
    values = establishment_variables(establishment=establishment)
    data = regional.preparation
    exercise = services.exercise_create(
        actor=runner, establishment=establishment, title=fill_variables(regional.title, values)[:200],
        maturity_level=data.get("level") or "beginner", planned_start=regional.planned_start,
        objectives=fill_variables(data.get("objectives", ""), values),
        scenario=fill_variables(data.get("scenario", ""), values),
    )
    services.chronogramme_import(actor=runner, exercise=exercise, chronogramme=_filled(parsed, values))
    RegionalMember.objects.filter(pk=member.pk).update(exercise=exercise, variables=values, error="")
    return exercise


def regional_preparation_run(*, regional_id: int) -> int:
    """Write the exercise of every establishment not prepared yet (the body of the task
    `regional_exercise_prepare`). Each establishment in a transaction of its own, its
    row locked and checked again inside it: a worker stopped mid-way leaves every
    establishment either prepared or untouched, and running this again (or twice at
    once) prepares the rest, never one twice. An establishment that fails keeps its
    reason and does not stop the others. Returns how many it prepared."""
    regional = RegionalExercise.objects.filter(pk=regional_id).first()
    if regional is None or regional.status != RegionalExerciseStatus.PREPARING:
        return 0
    runner = regional_exercise_runner(regional.preparation.get("runner") or "?")
    done = 0
    with translation.override(regional.preparation.get("language") or None):
        try:
            parsed = _scenario(regional)
        except chrono.ChronogrammeFileError as exc:  # checked at the request: only a damaged row
            RegionalMember.objects.filter(regional=regional, exercise__isnull=True, error="").update(
                error=_("The scenario could not be read: %(error)s") % {"error": exc})
            _preparation_close(regional=regional)
            return 0
        pending = list(RegionalMember.objects.filter(regional=regional, exercise__isnull=True, error="")
                       .order_by("establishment__name", "pk").values_list("pk", flat=True))
        for member_id in pending:
            try:
                with transaction.atomic():
                    member = (RegionalMember.objects.select_for_update().select_related("establishment")
                              .get(pk=member_id))
                    if member.exercise_id is not None or member.error:
                        continue  # prepared (or refused) by another worker meanwhile
                    _member_prepare(regional=regional, member=member, parsed=parsed, runner=runner)
                    done += 1
            except Exception as exc:  # one establishment's failure must not stop the others
                if isinstance(exc, ValidationError | PermissionDenied):
                    reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                else:
                    logger.exception("could not prepare regional exercise %s, member %s", regional_id, member_id)
                    reason = _("Unexpected error (%(kind)s): see the server log.") % {"kind": type(exc).__name__}
                RegionalMember.objects.filter(pk=member_id, exercise__isnull=True).update(
                    error=reason[:2000] or _("Unknown error."))
        _preparation_close(regional=regional)
    return done


def _preparation_close(*, regional: RegionalExercise) -> None:
    """Once no establishment waits, the regional exercise is prepared (once: the
    conditional update tells which of two workers closes it)."""
    members = RegionalMember.objects.filter(regional=regional)
    if members.filter(exercise__isnull=True, error="").exists():
        return
    now = timezone.now()
    with transaction.atomic():
        closed = RegionalExercise.objects.filter(pk=regional.pk, status=RegionalExerciseStatus.PREPARING).update(
            status=RegionalExerciseStatus.PREPARED, prepared_at=now)
        if closed:
            failed = sorted(members.exclude(error="").values_list("establishment__name", flat=True))
            audit_record(actor=regional_exercise_runner(regional.preparation.get("runner") or "?"),
                         action="exercise.regional_prepared", obj=regional, changes={
                             "prepared": members.filter(exercise__isnull=False).count(), "failed": failed,
                             "seconds": round((now - regional.created_at).total_seconds(), 1)})


def regional_preparation_retry(*, actor: Actor, regional: RegionalExercise) -> RegionalOutcome:
    """Prepare again the establishments whose preparation failed (before the launch)."""
    rights.require_animate_regional_exercise(actor, regional)
    with transaction.atomic():
        regional = _locked_regional(regional)
        if regional.status != RegionalExerciseStatus.PREPARED:
            raise ValidationError(_("Only a prepared regional exercise that has not been launched can be "
                                    "prepared again."))
        again = RegionalMember.objects.filter(regional=regional, exercise__isnull=True).exclude(error="").update(
            error="")
        if not again:
            raise ValidationError(_("Every establishment is prepared already."))
        RegionalExercise.objects.filter(pk=regional.pk).update(status=RegionalExerciseStatus.PREPARING,
                                                               prepared_at=None)
        audit_record(actor=actor, action="exercise.regional_prepare_again", obj=regional, changes={"again": again})
        transaction.on_commit(functools.partial(regional_preparation_wake, regional_id=regional.pk))
    return RegionalOutcome(done=again)


@dataclass
class RegionalOutcome:
    """What a regional act did: the establishments it applied to, and those it could
    not, with the reasons."""

    done: int = 0
    refused: dict[str, list[str]] = field(default_factory=dict)


def _members(regional: RegionalExercise) -> list[RegionalMember]:
    return list(RegionalMember.objects.filter(regional=regional).select_related(
        "establishment", "exercise__establishment").order_by("establishment__name", "pk"))


def _locked_regional(regional: RegionalExercise) -> RegionalExercise:
    return RegionalExercise.objects.select_for_update().get(pk=regional.pk)


def regional_launch(
    *, actor: Actor, regional: RegionalExercise, start_at: datetime.datetime | None = None,
) -> RegionalOutcome:
    """Start every establishment's run on one clock. The clocks start at `start_at`
    (by default once every run is opened, as the launch commits), so every run reaches
    each inject at the same instant. An exercise that cannot start (no
    animator named there, cancelled, its preparation failed) is left out and reported;
    nothing starts while the exercises are being prepared."""
    rights.require_animate_regional_exercise(actor, regional)
    members = _members(regional)
    runner = _runner(actor)
    outcome = RegionalOutcome()
    started: list[int] = []
    with transaction.atomic():
        regional = _locked_regional(regional)
        if regional.status == RegionalExerciseStatus.PREPARING:
            prepared = sum(1 for member in members if member.exercise_id is not None)
            raise ValidationError(_("The establishments' exercises are still being prepared (%(prepared)d of "
                                    "%(total)d): launch once they are all ready.")
                                  % {"prepared": prepared, "total": len(members)})
        if regional.status != RegionalExerciseStatus.PREPARED:
            raise ValidationError(_("This regional exercise has already been launched."))
        for member in members:
            if member.exercise is None:
                outcome.refused[member.establishment.name] = [
                    _("Its exercise could not be prepared: %(reason)s") % {"reason": member.error}]
                continue
            try:
                with transaction.atomic():
                    run = run_services.run_start(actor=runner, exercise=member.exercise, speed=regional.speed,
                                                 now=start_at or timezone.now())
            except ValidationError as exc:
                outcome.refused[member.establishment.name] = list(exc.messages)
            else:
                outcome.done += 1
                started.append(run.pk)
        if start_at is None:
            # Opening hundreds of runs takes a while: every clock starts together, at
            # the commit that makes them visible to the workers (a moment from now).
            start_at = timezone.now() + datetime.timedelta(seconds=LAUNCH_MARGIN)
            ExerciseRun.objects.filter(pk__in=started).update(started_at=start_at, anchor_at=start_at)
        if not outcome.done:
            raise ValidationError(_("No establishment's exercise could start: %(reasons)s") % {
                "reasons": "; ".join(f"{name}: {' '.join(reasons)}" for name, reasons in outcome.refused.items())})
        RegionalExercise.objects.filter(pk=regional.pk).update(
            status=RegionalExerciseStatus.RUNNING, started_at=start_at)
        audit_record(actor=actor, action="exercise.regional_launch", obj=regional, changes={
            "started": outcome.done, "left_out": sorted(outcome.refused), "start": start_at.isoformat()})
    return outcome


def _each_run(
    *, actor: Actor, regional: RegionalExercise, action: str, call: Any, status: Any,
    now: datetime.datetime | None = None, allowed: tuple[Any, ...] = (RegionalExerciseStatus.RUNNING,
                                                                      RegionalExerciseStatus.PAUSED),
) -> RegionalOutcome:
    """Apply one run service to every establishment's run with the same `now`, in one
    transaction; a run in another state is reported, not an error."""
    rights.require_animate_regional_exercise(actor, regional)
    now = now or timezone.now()
    runner = _runner(actor)
    outcome = RegionalOutcome()
    with transaction.atomic():
        regional = _locked_regional(regional)
        if regional.status not in allowed:
            raise ValidationError(_("This cannot be done while the regional exercise is %(status)s.")
                                  % {"status": regional.get_status_display().lower()})
        runs = {run.exercise_id: run for run in ExerciseRun.objects.filter(
            exercise__regional_member__regional=regional).select_related("exercise__establishment", "crisis")}
        for member in _members(regional):
            run = runs.get(member.exercise_id)
            if run is None:
                outcome.refused[member.establishment.name] = [_("The exercise has not started.")]
                continue
            try:
                with transaction.atomic():
                    done = call(runner, run, now)
            except ValidationError as exc:
                outcome.refused[member.establishment.name] = list(exc.messages)
            else:
                outcome.done += 1 if done is not False else 0
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
            if status == RegionalExerciseStatus.FINISHED:
                values["finished_at"] = now
            RegionalExercise.objects.filter(pk=regional.pk).update(**values)
        audit_record(actor=actor, action=f"exercise.regional_{action}", obj=regional, changes={
            "runs": outcome.done, "left_out": sorted(outcome.refused)})
    return outcome


def regional_pause(*, actor: Actor, regional: RegionalExercise, now: datetime.datetime | None = None) -> RegionalOutcome:
    """Pause every running exercise at the same instant."""
    return _each_run(
        actor=actor, regional=regional, action="pause", now=now, status=RegionalExerciseStatus.PAUSED,
        allowed=(RegionalExerciseStatus.RUNNING,),
        call=lambda runner, run, at: run_services.run_pause(actor=runner, run=run, now=at))


def regional_resume(*, actor: Actor, regional: RegionalExercise, now: datetime.datetime | None = None) -> RegionalOutcome:
    """Resume every paused exercise at the same instant: their clocks stay together."""
    return _each_run(
        actor=actor, regional=regional, action="resume", now=now, status=RegionalExerciseStatus.RUNNING,
        allowed=(RegionalExerciseStatus.PAUSED,),
        call=lambda runner, run, at: run_services.run_resume(actor=runner, run=run, now=at))


def regional_finish(*, actor: Actor, regional: RegionalExercise, now: datetime.datetime | None = None) -> RegionalOutcome:
    """End every exercise (what was not sent stays unsent; each counts for its
    establishment's yearly obligation)."""
    return _each_run(
        actor=actor, regional=regional, action="finish", now=now, status=RegionalExerciseStatus.FINISHED,
        call=lambda runner, run, at: run_services.run_finish(actor=runner, run=run, now=at))


def _fire_next(runner: SystemActor, run: ExerciseRun, now: datetime.datetime) -> bool:
    if run.status not in (RunStatus.RUNNING, RunStatus.PAUSED):
        raise ValidationError(_("This exercise is finished."))
    row = (InjectRun.objects.filter(run=run, state=InjectState.PENDING).select_related("inject")
           .order_by(F("due_seconds").asc(nulls_last=True), "inject__number").first())
    if row is None:
        raise ValidationError(_("No inject left to send."))
    row.run = run
    return run_services.inject_fire(actor=runner, row=row, now=now)


def regional_fire_next(*, actor: Actor, regional: RegionalExercise, now: datetime.datetime | None = None) -> RegionalOutcome:
    """Send now, in every establishment, the next inject that is still waiting."""
    return _each_run(actor=actor, regional=regional, action="fire_next", now=now, status=None, call=_fire_next)


# ---------------------------------------------------------------------------- report


@dataclass
class MemberResult:
    member: RegionalMember
    status: str
    fired: int
    total: int
    score: float | None
    done: int
    late: int
    missed: int
    max_lag_seconds: float | None


@dataclass
class GroupResult:
    """One line of the comparison by category: how many establishments it counts, and
    the mean of their figures (suppressed under the anonymity threshold in the export)."""

    key: str
    label: str
    count: int
    mean_score: float | None
    share_done: float | None
    mean_fired_percent: float | None


@dataclass
class RegionalReport:
    regional: RegionalExercise
    results: list[MemberResult]
    groups: list[GroupResult]
    threshold: int = THRESHOLD


def regional_report(*, regional: RegionalExercise) -> RegionalReport:
    """Results of every establishment (score on the evaluation grid, expected reactions
    done, late, missed; injects sent; worst lag), and the comparison by category."""
    from planblanc.directory.models import EstablishmentCategory
    from planblanc.exercises.evaluation import evaluation_scores

    progress = regional_progress(regional=regional)
    results = []
    for row in progress.rows:
        score = counts = None
        if row.run is not None:
            evaluation = evaluation_scores(run=row.run, with_previous=False)
            score, counts = evaluation.overall.value, evaluation.overall.counts
        counts = counts or {"done": 0, "late": 0, "missed": 0}
        results.append(MemberResult(
            member=row.member, status=row.status, fired=row.fired, total=row.total, score=score,
            done=counts["done"], late=counts["late"], missed=counts["missed"], max_lag_seconds=row.max_lag_seconds,
        ))
    results.sort(key=lambda r: r.member.establishment.name)
    labels = dict(EstablishmentCategory.choices)
    by_category: dict[str, list[MemberResult]] = {}
    for result in results:
        by_category.setdefault(result.member.establishment.category, []).append(result)
    groups = [_group(key, str(labels.get(key, key)), items) for key, items in sorted(by_category.items())]
    groups.append(_group("all", _("All establishments"), results))
    return RegionalReport(regional=regional, results=results, groups=groups)


def _group(key: str, label: str, items: list[MemberResult]) -> GroupResult:
    scores = [r.score for r in items if r.score is not None]
    assessed = sum(r.done + r.late + r.missed for r in items)
    fired = [100 * r.fired / r.total for r in items if r.total]
    return GroupResult(
        key=key, label=label, count=len(items),
        mean_score=round(sum(scores) / len(scores), 1) if scores else None,
        share_done=round(100 * sum(r.done for r in items) / assessed, 1) if assessed else None,
        mean_fired_percent=round(sum(fired) / len(fired), 1) if fired else None,
    )


def regional_report_anonymised_rows(*, report: RegionalReport) -> list[list[Any]]:
    """The comparison by category with no establishment named, every figure over fewer
    than THRESHOLD establishments suppressed (the observatory's rule). No per-
    establishment line, and the number of establishments itself is suppressed too."""
    rows: list[list[Any]] = [
        [_("Anonymised comparison: figures counting fewer than %(n)d establishments are shown as %(mark)s.")
         % {"n": THRESHOLD, "mark": anonymised(0, support=0)}],
        [_("Regional exercise"), report.regional.title],
        [_("Category"), _("Establishments"), _("Mean score (%)"), _("Expected reactions done (%)"),
         _("Injects sent (%)")],
    ]
    for group in report.groups:
        rows.append([
            group.label, anonymised(group.count, support=group.count),
            anonymised(group.mean_score, support=group.count), anonymised(group.share_done, support=group.count),
            anonymised(group.mean_fired_percent, support=group.count),
        ])
    return rows


def regional_report_rows(*, report: RegionalReport) -> list[list[Any]]:
    """The comparison per establishment (named), for the officers in scope."""
    rows: list[list[Any]] = [[
        _("Establishment"), _("FINESS number"), _("Category"), _("State"), _("Injects sent"), _("Injects"),
        _("Score (%)"), _("Done"), _("Late"), _("Missed"), _("Worst lag (s)"),
    ]]
    for r in report.results:
        establishment = r.member.establishment
        rows.append([
            establishment.name, establishment.finess, establishment.get_category_display(), r.status, r.fired,
            r.total, r.score if r.score is not None else "", r.done, r.late, r.missed,
            round(r.max_lag_seconds, 1) if r.max_lag_seconds is not None else "",
        ])
    return rows


__all__ = [
    "VARIABLES", "MemberProgress", "regional_exercise_prepare", "RegionalOutcome", "RegionalProgress", "RegionalReport", "establishment_variables",
    "fill_variables", "launchable_establishments", "model_exercises",
    "regional_exercise_create", "regional_exercise_get_for_user", "regional_exercise_list", "regional_finish",
    "regional_fire_next", "regional_launch", "regional_pause", "regional_preparation_retry",
    "regional_preparation_run", "regional_preparation_wake", "regional_preparations_wake", "regional_progress",
    "regional_report",
    "regional_report_anonymised_rows", "regional_report_rows", "regional_resume",
]
