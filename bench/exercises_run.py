"""Exercise runs: 50 exercises running at once at ×10 on PostgreSQL, each with 20 injects
one simulated minute apart (one every 6 real seconds), half of them by email to three
players (an exercise campaign written through the alerting engine), half in-app.
Worker processes run the run worker step (`exercises.run.runs_process`, the body of
the `exercise_runs_process` task) in a loop polling every --interval seconds.

Reports the lag between an inject's due time (real time computed from the simulated
clock) and its firing (the commit that marks it sent and queues its campaign): p50, p99,
max (goal p99 < 1 s), and checks that no inject was fired twice.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/exercises_run.py
    ... --exercises 50 --injects 20 --workers 2 --interval 0.2

The throwaway database `pb_exo_bench` (on the server of DATABASE_URL) is created at the
start and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time

from common import (
    bench_environment,
    django_setup,
    inject_lags,
    injects_add,
    participants_add,
    percentile,
    run_exercise_workers,
    throwaway_database,
)

BENCH_DB = "pb_exo_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exercises", type=int, default=50)
    parser.add_argument("--injects", type=int, default=20)
    parser.add_argument("--speed", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    with throwaway_database(BENCH_DB):
        bench_environment("exercises")
        run_bench(args)


def run_bench(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import connection
    from django.utils import timezone
    from tests.factories import (
        EstablishmentFactory,
        RegionFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    from planblanc.accounts.models import AuditEntry
    from planblanc.exercises import run as run_services
    from planblanc.exercises import services
    from planblanc.exercises.models import InjectRun
    from planblanc.tenancy import Role

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, "
          f"{args.exercises} exercises × {args.injects} injects at ×{args.speed}, {args.workers} workers")
    region = RegionFactory(code="RB", name="Région bench")
    animator = UserFactory(username="bench-animator")
    exercises = []
    started = time.perf_counter()
    establishments = []
    for index in range(args.exercises):
        establishment = EstablishmentFactory(name=f"CH bench {index}", region=region)
        RoleAssignmentFactory(user=animator, role=Role.EXERCISE_ANIMATOR, establishment=establishment)
        establishments.append(establishment)
    animator = type(animator).objects.get(pk=animator.pk)  # rights are cached on the user object
    for index, establishment in enumerate(establishments):
        exercise = services.exercise_create(actor=animator, establishment=establishment, title=f"Exercice {index}")
        # Odd injects by email to the three players, even ones in-app.
        injects_add(actor=animator, exercise=exercise, count=args.injects, every=datetime.timedelta(minutes=1),
                    channels=("oral", "email"))
        participants_add(actor=animator, exercise=exercise)
        exercises.append(exercise)
    print(f"set-up: {time.perf_counter() - started:.1f} s")
    expected_seconds = args.injects * 60 / args.speed

    def start_runs() -> None:
        # Every run starts at the same instant, a little ahead, so the time spent starting
        # 50 runs one after the other does not count as lag.
        t0 = timezone.now() + datetime.timedelta(seconds=max(5.0, 0.3 * len(exercises)))
        for exercise in exercises:
            run_services.run_start(actor=animator, exercise=exercise, speed=args.speed, now=t0)
        print(f"started {len(exercises)} runs; last injects due after {expected_seconds:.0f} s")

    run_exercise_workers(args.workers, interval=args.interval, seconds=expected_seconds + 300,
                         running=len(exercises), start=start_runs)
    total = InjectRun.objects.count()
    lags = inject_lags(InjectRun.objects.all())
    unsent = InjectRun.objects.filter(state="pending").count()
    fired_audits = AuditEntry.objects.filter(action="exercise.inject_fire").count()
    print(f"injects: {total}, fired: {len(lags)}, never fired: {unsent}, fire audits: {fired_audits}")
    print(f"lag due → sent: p50 {statistics.median(lags) * 1000:.0f} ms, p99 {percentile(lags, 99) * 1000:.0f} ms, "
          f"max {max(lags) * 1000:.0f} ms (goal p99 < 1000 ms)")
    print("fired twice: none" if fired_audits == len(lags) else "fired twice: YES")


if __name__ == "__main__":
    main()
