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
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
BENCH_DB = "pb_exo_bench"

WORKER = """
import os, sys, time, django
django.setup()
from django.db import close_old_connections
from planblanc.exercises.run import runs_process
from planblanc.exercises.models import ExerciseRun, InjectRun, InjectState
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    runs_process()
    close_old_connections()
    if not InjectRun.objects.filter(state=InjectState.PENDING).exists():
        break
    time.sleep(float(sys.argv[1]))
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def admin_sql(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exercises", type=int, default=50)
    parser.add_argument("--injects", type=int, default=20)
    parser.add_argument("--speed", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("DATABASE_URL (PostgreSQL) is required: the bench creates and drops its own database on that server.")
    url = urlunsplit(urlsplit(base_url)._replace(path=f"/{BENCH_DB}"))
    admin_sql(base_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_sql(base_url, f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    os.environ.setdefault("PLANBLANC_DATA_DIR", str(Path("/tmp") / "pb-bench-exercises"))
    os.environ["PLANBLANC_LOG_LEVEL"] = "WARNING"
    try:
        run_bench(args, url)
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(base_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def run_bench(args: argparse.Namespace, url: str) -> None:
    import datetime

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from tests.factories import (
        EstablishmentFactory,
        MembershipFactory,
        PersonFactory,
        RegionFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

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
        for number in range(1, args.injects + 1):
            services.inject_create(actor=animator, exercise=exercise, data={
                "number": number, "subject": f"Inject {number}", "content": "Texte de l'inject.",
                "offset": datetime.timedelta(minutes=number), "channel": "email" if number % 2 else "oral"})
        anim = MembershipFactory(establishment=establishment, person=PersonFactory()).person
        services.participant_add(actor=animator, exercise=exercise, person=anim, role="animator")
        for _player in range(3):
            person = MembershipFactory(establishment=establishment, person=PersonFactory()).person
            services.participant_add(actor=animator, exercise=exercise, person=person, role="player")
        exercises.append(exercise)
    print(f"set-up: {time.perf_counter() - started:.1f} s")
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(args.interval), "600"],
                         env={**os.environ, "DATABASE_URL": url}, cwd=ROOT)
        for _ in range(args.workers)
    ]
    # Every run starts at the same instant, a little ahead, so the time spent starting 50
    # runs one after the other does not count as lag.
    t0 = timezone.now() + datetime.timedelta(seconds=max(5.0, 0.3 * len(exercises)))
    for exercise in exercises:
        run_services.run_start(actor=animator, exercise=exercise, speed=args.speed, now=t0)
    expected_seconds = args.injects * 60 / args.speed
    print(f"started {len(exercises)} runs; last injects due after {expected_seconds:.0f} s")
    for worker in workers:
        worker.wait(timeout=expected_seconds + 300)
    rows = list(InjectRun.objects.values_list("fired_at", "due_real_at", "state"))
    lags = [(fired - due).total_seconds() for fired, due, _state in rows if fired and due]
    unsent = sum(1 for _f, _d, state in rows if state == "pending")
    from planblanc.accounts.models import AuditEntry

    fired_audits = AuditEntry.objects.filter(action="exercise.inject_fire").count()
    print(f"injects: {len(rows)}, fired: {len(lags)}, never fired: {unsent}, fire audits: {fired_audits}")
    print(f"lag due → sent: p50 {statistics.median(lags) * 1000:.0f} ms, p99 {percentile(lags, 99) * 1000:.0f} ms, "
          f"max {max(lags) * 1000:.0f} ms (goal p99 < 1000 ms)")
    print("fired twice: none" if fired_audits == len(lags) else "fired twice: YES")


if __name__ == "__main__":
    main()
