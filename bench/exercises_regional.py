"""Regional simultaneous exercise: 300 establishments start one 40-inject scenario at the
same instant, on PostgreSQL with two worker processes, at ×1 and at ×10.

For each speed the script prepares the regional exercise as the form does: the request
(`regional_exercise_create`) records the choice and queues the preparation task, then
one worker process (`planblanc worker --batch --queue-name default`, the ordinary worker
serving the default queue) writes one exercise per establishment, variables filled in.
Printed: the request's time, and the preparation's time through the task (from the
request to the last exercise written, and the task alone). It then launches it (every run's clock
starts at the same instant), and lets two worker processes run the ordinary worker step
(`exercises.run.runs_process`, the body of the `exercise_runs_process` task) in a loop
polling every --interval seconds. Every inject of every run falls due at the same
instant as its 299 siblings: bursts of 300.

Baseline, measured first in the same run at each speed: one establishment alone playing
the same scenario with the same workers. Printed: the lag between an inject's due time
(real time from the simulated clock) and its firing (the row marked sent), p50 / p99 /
max, the ratio of the regional p99 to the baseline's, injects never fired or fired
twice, and the load average (`os.getloadavg`, as `uptime` shows it) before and after.

The scenario's injects are one --gap real seconds apart at every speed (so
--gap × speed simulated seconds apart): ×1 and ×10 differ by their clock, not by the
length of the run. They are in-app injects (oral, simulated call, press article): the
cost of writing an email campaign per inject is measured by bench/exercises_run.py.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/exercises_regional.py
    ... --establishments 300 --injects 40 --speeds 1,10 --workers 2 --gap 6 --interval 0.2
    ... --prepare-only    (the preparation alone, at each speed: no baseline, no launch)

The throwaway database `pb_regional_bench` (on the server of DATABASE_URL) is created
at the start and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

from common import (
    ROOT,
    bench_environment,
    django_setup,
    inject_lags,
    injects_add,
    machine_load,
    percentile,
    run_exercise_workers,
    throwaway_database,
)

BENCH_DB = "pb_regional_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--establishments", type=int, default=300)
    parser.add_argument("--injects", type=int, default=40)
    parser.add_argument("--speeds", default="1,10")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gap", type=float, default=6.0, help="real seconds between two injects")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--prepare-only", action="store_true", help="measure the preparation only")
    args = parser.parse_args()
    with throwaway_database(BENCH_DB):
        bench_environment("regional")
        run_bench(args)


def lags_of(exercise_ids: list[int]) -> tuple[list[float], int, int]:
    from planblanc.accounts.models import AuditEntry
    from planblanc.exercises.models import InjectRun

    runs = InjectRun.objects.filter(run__exercise_id__in=exercise_ids)
    lags = inject_lags(runs)
    unsent = runs.filter(state="pending").count()
    inject_ids = [str(pk) for pk in runs.values_list("inject_id", flat=True)]
    audits = AuditEntry.objects.filter(action="exercise.inject_fire", object_id__in=inject_ids).count()
    return lags, unsent, audits


def describe(name: str, lags: list[float], total: int, unsent: int, audits: int) -> float:
    p99 = percentile(lags, 99)
    print(f"  {name}: {total} injects, fired {len(lags)}, never fired {unsent}, "
          f"fired twice: {'none' if audits == len(lags) else f'YES ({audits} fire audits)'}; "
          f"lag due → fired p50 {statistics.median(lags) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {max(lags) * 1000:.0f} ms")
    return p99


def run_bench(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import connection
    from django.utils import timezone
    from tests.factories import (
        EstablishmentFactory,
        MembershipFactory,
        PersonFactory,
        RegionFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    from planblanc.exercises import regional, services
    from planblanc.exercises import run as run_services
    from planblanc.exercises.models import ExerciseRun, RegionalMember, RunStatus
    from planblanc.tenancy import Role

    speeds = [int(s) for s in args.speeds.split(",") if s.strip()]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"database {connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''}")
    print(f"{args.establishments} establishments × {args.injects} injects, one every {args.gap:g} real s, "
          f"speeds {speeds}, {args.workers} workers polling every {args.interval:g} s; {machine_load()}")
    region = RegionFactory(code="RB", name="Région bench")
    officer = UserFactory(username="bench-ars")
    RoleAssignmentFactory(user=officer, role=Role.REGIONAL_OFFICER, region=region)
    animator = UserFactory(username="bench-animator")
    started = time.perf_counter()
    establishments = [EstablishmentFactory(name=f"CH bench {index:03d}", region=region)
                      for index in range(args.establishments)]
    alone = EstablishmentFactory(name="CH seul", region=region)
    RoleAssignmentFactory(user=animator, role=Role.EXERCISE_ANIMATOR, establishment=alone)
    animators = {e.pk: MembershipFactory(establishment=e, person=PersonFactory()).person
                 for e in [*establishments, alone]}
    officer = type(officer).objects.get(pk=officer.pk)
    animator = type(animator).objects.get(pk=animator.pk)
    print(f"directory set-up: {time.perf_counter() - started:.1f} s")
    channels = ["oral", "phone_call", "press_article", "social_post"]

    for speed in speeds:
        spacing = args.gap * speed
        model = services.exercise_create(actor=animator, establishment=alone, title=f"Modèle ×{speed}")
        injects_add(actor=animator, exercise=model, count=args.injects, every=datetime.timedelta(seconds=spacing),
                    channels=channels, subject="Inject {number} pour {etablissement}",
                    content="Le directeur {directeur} est injoignable ; {voisins} signalent la même panne.")
        services.participant_add(actor=animator, exercise=model, person=animators[alone.pk], role="animator")
        expected = args.injects * args.gap
        print(f"×{speed}: scenario of {args.injects} injects {spacing:g} simulated s apart, {expected:.0f} real s")

        # Baseline: the model exercise alone, same workers, same scenario.
        def start_alone(exercise: Any = model, speed: int = speed) -> None:
            t0 = timezone.now() + datetime.timedelta(seconds=2)
            run_services.run_start(actor=animator, exercise=exercise, speed=speed, now=t0)

        running = ExerciseRun.objects.filter(status=RunStatus.RUNNING).count()
        base_p99 = 0.0
        if not args.prepare_only:
            run_exercise_workers(args.workers, interval=args.interval, seconds=expected + 300, running=running + 1,
                                 start=start_alone)
            lags, unsent, audits = lags_of([model.pk])
            print(f"  after the baseline: {machine_load()}")
            base_p99 = describe("baseline, one establishment", lags, args.injects, unsent, audits)

        started = time.perf_counter()
        planned = timezone.now() + datetime.timedelta(hours=1)
        exercise = regional.regional_exercise_create(
            actor=officer, title=f"Exercice régional ×{speed} — {{etablissement}}", establishments=establishments,
            planned_start=planned, model=model, speed=speed)
        request = time.perf_counter() - started
        print(f"  request: choice recorded and preparation queued in {request * 1000:.0f} ms "
              f"(state {exercise.status}, {exercise.members.count()} establishments); {machine_load()}")
        prepare_through_task(exercise)
        member_exercises = list(RegionalMember.objects.filter(regional=exercise).exclude(exercise=None)
                                .values_list("exercise", flat=True))
        if args.prepare_only:
            continue
        for member in RegionalMember.objects.filter(regional=exercise).select_related("exercise"):
            services.participant_add(actor=officer_runner(officer), exercise=member.exercise,
                                     person=animators[member.establishment_id], role="animator")
        launch: dict[str, Any] = {}

        def start_regional(exercise: Any = exercise, launch: dict[str, Any] = launch) -> None:
            began = time.perf_counter()
            outcome = regional.regional_launch(actor=officer, regional=exercise)
            launch["seconds"] = time.perf_counter() - began
            launch["outcome"] = outcome

        run_exercise_workers(args.workers, interval=args.interval, seconds=expected + 330,
                             running=running + 1 + len(member_exercises), start=start_regional)
        outcome = launch["outcome"]
        print(f"  launched {outcome.done} runs in {launch['seconds']:.1f} s (left out: {len(outcome.refused)}); "
              f"after: {machine_load()}")
        lags, unsent, audits = lags_of(member_exercises)
        p99 = describe(f"regional, {len(member_exercises)} establishments", lags,
                       len(member_exercises) * args.injects, unsent, audits)
        print(f"  ratio p99 regional / p99 baseline: {p99 / base_p99 if base_p99 > 0 else float('nan'):.2f} "
              f"(goal p99 < 1000 ms{' at ×10' if speed == 10 else ''}: {'met' if p99 < 1 else 'not met'})")


def officer_runner(officer: Any) -> Any:
    """The process that acts in the establishments for the regional officer (each
    establishment names its own animator before the launch; here the bench does it)."""
    from planblanc.actors import regional_exercise_runner

    return regional_exercise_runner(officer.get_username())


def prepare_through_task(exercise: Any) -> None:
    """Run one worker process on the default queue until the queue is empty (the
    preparation task queued by the request), and print how long the preparation took."""
    from django_tasks_db.models import DBTaskResult

    from planblanc.exercises.models import RegionalMember
    from planblanc.exercises.regional import regional_exercise_prepare

    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "planblanc", "worker", "--batch", "--queue-name", "default", "-v", "0"],
                   env=dict(os.environ), cwd=ROOT, check=True)
    waited = time.perf_counter() - began
    exercise.refresh_from_db()
    task = DBTaskResult.objects.filter(task_path=regional_exercise_prepare.module_path,
                                       args_kwargs__kwargs__regional_id=exercise.pk).get()
    members = RegionalMember.objects.filter(regional=exercise)
    prepared, failed = members.exclude(exercise=None).count(), members.exclude(error="").count()
    assert exercise.prepared_at is not None and task.started_at and task.finished_at, (exercise.status, task.status)
    total = (exercise.prepared_at - exercise.created_at).total_seconds()
    alone = (task.finished_at - task.started_at).total_seconds()
    print(f"  prepared through the task: {prepared} exercises ({failed} failed) in {total:.1f} s from the request "
          f"to the last one written (the task alone {alone:.1f} s, {alone / max(prepared, 1) * 1000:.0f} ms "
          f"per establishment; worker process started and stopped: {waited:.1f} s); {machine_load()}")


if __name__ == "__main__":
    main()
