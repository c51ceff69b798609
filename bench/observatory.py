"""The national observatory at national scale: 45,000 establishments, five years of data.

Creates a throw-away PostgreSQL database (`pb_obs_bench` on the server of DATABASE_URL),
fills it with synthetic data by bulk_create — establishments in 18 regions, one hygiene
assessment each with two score snapshots a year, governance records with budgets, white
plans with their cached completeness and approvals, crisis exercises (exercises app and
exercise crises) and real incidents with their status boards — then times the national
dashboard (the selectors alone, and the whole page with its SVG charts) and a regional
one, median of several runs, and drops the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/observatory.py
    ... python bench/observatory.py --establishments 5000 --repeat 5     # quicker
    ... python bench/observatory.py --keep                               # keep the data
"""

from __future__ import annotations

import argparse
import datetime
import random
import time

from common import (
    bench_environment,
    django_setup,
    machine_load,
    measure_action,
    throwaway_database,
    verified_client,
)

BENCH_DB = "pb_obs_bench"


def timed(label: str, started: float) -> float:
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.1f} s", flush=True)
    return elapsed


def generate(n: int, rng: random.Random) -> None:  # noqa: PLR0915 — one straight script
    from django.utils import timezone

    from planblanc.actors import SystemActor
    from planblanc.crisis.models import Crisis, DepartmentStatus, StatusChange
    from planblanc.directory.models import Establishment, EstablishmentCategory, Group, Region
    from planblanc.directory.validators import finess_with_check_digit
    from planblanc.exercises.models import Exercise
    from planblanc.plans.models import Plan, PlanVersion
    from planblanc.readiness import services
    from planblanc.readiness.loader import bundled_paths
    from planblanc.readiness.models import Assessment, AssessmentSnapshot, GovernanceRecord

    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    first_year = today.year - 4
    batch = 5000

    started = time.perf_counter()
    referentials, _warnings = services.referentials_load(paths=bundled_paths(), actor=SystemActor("bench"))
    hygiene = next(r for r in referentials if r.slug == "hygiene-anssi")
    regions = Region.objects.bulk_create([Region(code=f"R{r:02d}", name=f"Région {r:02d}") for r in range(18)])
    groups = Group.objects.bulk_create([
        Group(code=f"GHT-{g:03d}", name=f"GHT {g:03d}", region=regions[g % 18]) for g in range(135)
    ])
    categories = [c for c, _label in EstablishmentCategory.choices]
    weights = [2, 10, 3, 10, 5, 1, 10, 45, 10, 3, 1]
    establishments = []
    for i in range(n):
        region = regions[i % 18]
        department = (i % 95) + 1
        department = 21 if department == 20 else department
        category = rng.choices(categories, weights)[0]
        in_group = category in ("chu", "ch", "chs") or rng.random() < 0.1
        establishments.append(Establishment(
            finess=finess_with_check_digit(f"{department:02d}{i:06d}"), name=f"Établissement {i:05d}",
            category=category, region=region, is_priority=category in ("chu", "ch", "clcc") or rng.random() < 0.03,
            is_essential_operator=category == "chu", group=groups[(i // 18) % 135 if in_group else 0]
            if in_group else None,
        ))
    establishments = Establishment.objects.bulk_create(establishments, batch_size=batch)
    timed(f"{n} establishments", started)

    started = time.perf_counter()
    # Each score's history is drawn first, so that the assessment is written once with
    # its final score (bulk_update of tens of thousands of rows is quadratic).
    histories: list[tuple[Establishment, list[tuple[datetime.date, float]]]] = []
    for e in establishments:
        if rng.random() >= 0.85:
            continue
        score, history = rng.uniform(5, 50), []
        for year in range(first_year, today.year + 1):
            for month in (3, 9):
                day = datetime.date(year, month, 15)
                if day <= today:
                    score = min(100.0, score + rng.uniform(-3, 12))
                    history.append((day, round(score, 2)))
        histories.append((e, history))
    now = timezone.now()
    assessments = Assessment.objects.bulk_create([
        Assessment(establishment=e, referential=hygiene, score=history[-1][1] if history else None, scored_at=now)
        for e, history in histories
    ], batch_size=batch)
    snapshots = [
        AssessmentSnapshot(assessment=assessment, day=day, score=score, answered=42, applicable=42)
        for assessment, (_e, history) in zip(assessments, histories, strict=True) for day, score in history
    ]
    AssessmentSnapshot.objects.bulk_create(snapshots, batch_size=batch)
    timed(f"{len(assessments)} assessments, {len(snapshots)} snapshots", started)

    started = time.perf_counter()
    records = []
    for e in establishments:
        it_budget = rng.randint(50, 5000) * 1000
        for year in range(first_year, today.year + 1):
            if rng.random() < 0.7:
                share = max(0.0, rng.gauss(4 + (year - first_year) * 0.8, 2.5))
                records.append(GovernanceRecord(establishment=e, year=year, it_budget=it_budget,
                                                security_budget=round(it_budget * share / 100, 2)))
    GovernanceRecord.objects.bulk_create(records, batch_size=batch)
    timed(f"{len(records)} governance records", started)

    started = time.perf_counter()
    plans = Plan.objects.bulk_create([
        Plan(establishment=e, completeness=rng.randint(10, 100), completeness_at=timezone.now())
        for e in establishments if rng.random() < 0.75
    ], batch_size=batch)
    versions = []
    for plan in plans:
        for number in range(1, rng.randint(0, 3) + 1):
            approved = datetime.datetime(first_year, 1, 1, tzinfo=tz) + datetime.timedelta(
                days=rng.randint(0, (today - datetime.date(first_year, 1, 1)).days))
            versions.append(PlanVersion(plan=plan, number=number, snapshot={}, snapshot_sha256="0" * 64,
                                        approved_at=approved, approved_by_label="bench"))
    PlanVersion.objects.bulk_create(versions, batch_size=batch)
    timed(f"{len(plans)} plans, {len(versions)} approvals", started)

    started = time.perf_counter()
    exercises, crises = [], []
    kinds = ["ransomware", "data_theft", "account_compromise", "provider_outage", "denial_of_service"]

    def moment(year: int) -> datetime.datetime:
        return datetime.datetime(year, 1, 1, 9, tzinfo=tz) + datetime.timedelta(days=rng.randint(0, 364))

    for e in establishments:
        for year in range(first_year, today.year + 1):
            if rng.random() < (0.6 if e.is_priority else 0.15):
                when = moment(year)
                if when.date() < today:
                    if rng.random() < 0.2:
                        crises.append(Crisis(establishment=e, kind="ransomware", severity="major", first_facts="Exercice",
                                             is_exercise=True, status="closed", declared_at=when,
                                             declared_by_label="bench"))
                    else:
                        exercises.append(Exercise(establishment=e, title="Exercice", status="finished",
                                                  planned_start=when))
            if rng.random() < 0.02:
                when = moment(year)
                if when.date() < today:
                    crises.append(Crisis(establishment=e, kind=rng.choice(kinds), severity="serious",
                                         first_facts="Incident", status="closed", declared_at=when,
                                         declared_by_label="bench"))
    Exercise.objects.bulk_create(exercises, batch_size=batch)
    crises = Crisis.objects.bulk_create(crises, batch_size=batch)
    statuses, changes = [], []
    for crisis in crises:
        if not crisis.is_exercise and rng.random() < 0.5:
            statuses.append(DepartmentStatus(crisis=crisis, name="Urgences", status="normal"))
    statuses = DepartmentStatus.objects.bulk_create(statuses, batch_size=batch)
    for status in statuses:
        changes.append(StatusChange(crisis_id=status.crisis_id, department_status=status, name=status.name,
                                    from_status="normal", to_status="degraded", at=timezone.now(), by_label="bench"))
    StatusChange.objects.bulk_create(changes, batch_size=batch)
    timed(f"{len(exercises)} exercises, {len(crises)} crises ({len(changes)} in degraded mode)", started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--establishments", type=int, default=45000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    with throwaway_database(BENCH_DB, keep=args.keep):
        bench_environment("observatory", PLANBLANC_ALLOWED_HOSTS="testserver")
        run(args)


def run(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import connection

    print(f"Generating {args.establishments} establishments and five years of data…", flush=True)
    started = time.perf_counter()
    generate(args.establishments, random.Random(20261126))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timed("generation in all", started)

    from planblanc.accounts.models import RoleAssignment, User
    from planblanc.directory.models import Region
    from planblanc.readiness import observatory as obs
    from planblanc.tenancy import Role

    national = User.objects.create(username="bench-national")
    RoleAssignment.objects.create(user=national, role=Role.NATIONAL_ADMIN)
    regional = User.objects.create(username="bench-regional")
    region = Region.objects.order_by("code").first()
    assert region is not None
    RoleAssignment.objects.create(user=regional, role=Role.REGIONAL_OFFICER, region=region)

    this_year = obs.Filters.default()
    five_years = obs.Filters(start=datetime.date(this_year.start.year - 4, 1, 1), end=this_year.end)
    past = obs.Filters(start=datetime.date(this_year.start.year - 2, 1, 1),
                       end=datetime.date(this_year.start.year - 2, 12, 31))
    national_client = verified_client(national, language="en")
    regional_client = verified_client(regional, language="en")
    results = []
    print(f"Timings ({args.repeat} runs each; {machine_load()}):", flush=True)
    for label, action in [
        ("national dashboard selectors, this year",
         lambda: obs.observatory_dashboard(user=national, filters=this_year, national=True)),
        ("national dashboard selectors, five years",
         lambda: obs.observatory_dashboard(user=national, filters=five_years, national=True)),
        ("national dashboard selectors, a past year (snapshots)",
         lambda: obs.observatory_dashboard(user=national, filters=past, national=True)),
        ("national dashboard page (HTML + SVG), this year",
         lambda: national_client.get("/preparation/observatoire/national/")),
        ("regional dashboard page, this year",
         lambda: regional_client.get(f"/preparation/observatoire/regions/{region.pk}/")),
        ("anonymised export (CSV), national",
         lambda: national_client.get("/preparation/observatoire/export-anonyme.csv")),
    ]:
        median, queries = measure_action(label, action, args.repeat)
        results.append((label, median, queries))
    response = national_client.get("/preparation/observatoire/national/")
    assert response.status_code == 200, response.status_code
    print(f"Goal: national dashboard page under 1 s → "
          f"{'met' if results[3][1] < 1 else 'NOT met'} ({results[3][1] * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
