"""A national awareness campaign: 1,000,000 staff in 3,000 establishments, on PostgreSQL.

Creates a throw-away database (`pb_awareness_bench` on the server of DATABASE_URL), fills
the directory by COPY (regions, groups, establishments with five departments each, the
staff with one membership each: mostly care and administrative staff, a few managers,
IT and crisis-cell members), then times what the platform does:

1. the national launch (`services.launch_create`, then its steps as the background task
   runs them, `services.launch_run`): one campaign per establishment and one assignment
   per person × module of their audiences;
2. the invitations (`services.launch_invite`, then the steps): one alert per
   establishment, one recipient with their signed personal link and one outbox row per
   person;
3. the awareness observatory page (through the Django test client, national viewer),
   per establishment, group and region, once 60 % of the staff are trained and one
   establishment in ten has run a phishing drill; and the readiness observatory page,
   which carries the staff-trained table too.

Each write is compared with a baseline measured in the same run on the same number of
rows: a plain COPY of the rows into a table of the same columns without constraints.
The machine's load (`uptime`) is printed with the figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/awareness.py
    ... python bench/awareness.py --staff 200000 --establishments 600     # quicker
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 - bench/ on the path first
    bench_environment,
    django_setup,
    machine_load,
    throwaway_database,
    verified_client,
)

BENCH_DB = "pb_awareness_bench"


def generate(*, establishments: int, staff: int, rng: random.Random, scattered: bool = False) -> None:
    from django.db import connection
    from django.utils import timezone

    from planblanc.directory.models import DepartmentKind, Establishment, Function, Group, Region
    from planblanc.directory.validators import finess_with_check_digit

    regions = Region.objects.bulk_create([Region(code=f"R{r:02d}", name=f"Région {r:02d}") for r in range(18)])
    groups = Group.objects.bulk_create([
        Group(code=f"GHT-{g:03d}", name=f"GHT {g:03d}", region=regions[g % 18]) for g in range(135)])
    rows = []
    for i in range(establishments):
        group = groups[i % 135] if i % 4 else None
        region = group.region if group else regions[i % 18]
        rows.append(Establishment(
            finess=finess_with_check_digit(f"{(i % 95) + 1:02d}{i:06d}"), name=f"Établissement {i:05d}",
            category="ch", region=region, group=group))
    created = Establishment.objects.bulk_create(rows, batch_size=2000)
    kinds = [DepartmentKind.EMERGENCY, DepartmentKind.MEDICINE, DepartmentKind.SURGERY, DepartmentKind.IT,
             getattr(DepartmentKind, "ADMINISTRATION", DepartmentKind.PHARMACY)]
    now = timezone.now()
    with connection.cursor() as cursor:
        with cursor.cursor.copy("COPY directory_department (kind, name, phone, establishment_id) FROM STDIN") as copy:
            for establishment in created:
                for n, kind in enumerate(kinds):
                    copy.write_row((kind, f"Service {n}", "", establishment.pk))
        cursor.execute("SELECT establishment_id, array_agg(id ORDER BY id) FROM directory_department "
                       "GROUP BY establishment_id")
        departments = dict(cursor.fetchall())
        with cursor.cursor.copy(
            "COPY directory_person (id, first_name, last_name, job_title, email, mobile_phone, landline_phone, "
            "preferred_language, created_at, updated_at, matrix_id) FROM STDIN"
        ) as copy:
            for p in range(1, staff + 1):
                copy.write_row((p, "Camille", f"Agent{p}", "", f"agent{p}@hopital.example",
                                f"+336{p % 100_000_000:08d}", "", "fr", now, now, ""))
        cursor.execute("SELECT setval(pg_get_serial_sequence('directory_person', 'id'), %s)", [staff])
        functions = [Function.STAFF] * 90 + [Function.DEPARTMENT_HEAD] * 4 + [Function.IT_STAFF] * 3 + \
            [Function.CRISIS_CELL] * 2 + [Function.DIRECTOR]
        with cursor.cursor.copy(
            "COPY directory_membership (function, department_id, establishment_id, person_id) FROM STDIN"
        ) as copy:
            for p in range(1, staff + 1):
                # As a directory import writes them: each establishment's staff in a run of
                # keys; --scattered deals them out one by one (the worst case for the indexes).
                establishment = created[p % len(created)] if scattered else created[(p - 1) * len(created) // staff]
                copy.write_row((rng.choice(functions), rng.choice(departments[establishment.pk]),
                                establishment.pk, p))
        cursor.execute("ANALYZE")


def baseline_copy(*, rows: int, columns: str, row: tuple) -> float:
    """Seconds to COPY `rows` rows of this shape into a plain table (no constraints)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS bench_baseline; CREATE TABLE bench_baseline ({columns})")
        started = time.perf_counter()
        with cursor.cursor.copy("COPY bench_baseline FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((i, *row))
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_baseline")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--staff", type=int, default=1_000_000)
    parser.add_argument("--establishments", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--scattered", action="store_true",
                        help="deal the staff out to establishments one by one instead of in runs of keys")
    args = parser.parse_args()
    with throwaway_database(BENCH_DB, keep=args.keep):
        bench_environment("awareness", PLANBLANC_ALLOWED_HOSTS="testserver")
        run(args)


def run(args: argparse.Namespace) -> None:  # noqa: PLR0915 — one straight script
    django_setup()
    from django.db import connection
    from django.utils import timezone

    print(f"Load before: {machine_load()}", flush=True)
    started = time.perf_counter()
    generate(establishments=args.establishments, staff=args.staff, rng=random.Random(20261205),
             scattered=args.scattered)
    print(f"Directory: {args.staff} staff in {args.establishments} establishments "
          f"({'dealt out one by one' if args.scattered else 'each establishment in a run of keys'}), written in "
          f"{time.perf_counter() - started:.0f} s", flush=True)

    from planblanc.accounts.models import RoleAssignment, User
    from planblanc.alerting.models import Delivery, Recipient
    from planblanc.awareness import services
    from planblanc.awareness.models import Assignment, Campaign
    from planblanc.tenancy import Role

    national = User.objects.create(username="bench-national")
    RoleAssignment.objects.create(user=national, role=Role.NATIONAL_ADMIN)
    year = timezone.localdate().year

    # 1. Assign everyone.
    started = time.perf_counter()
    launch = services.launch_create(actor=national, year=year, title="Sensibilisation nationale",
                                    deadline=timezone.localdate() + datetime.timedelta(days=60))
    services.launch_run(launch_id=launch.pk)
    assign_s = time.perf_counter() - started
    assignments = Assignment.objects.count()
    base_assign = baseline_copy(rows=assignments, columns="id bigint, campaign_id bigint, person_id bigint, "
                                "department_id bigint, audiences jsonb, module varchar(50), attempts smallint",
                                row=(1, 1, 1, '["all", "care"]', "ransom-note", 0))
    print(f"Load: {machine_load()}", flush=True)
    print(f"Assign: {assignments} assignments ({Campaign.objects.count()} campaigns) in {assign_s:.1f} s = "
          f"{assignments / assign_s:,.0f} rows/s; baseline plain COPY of as many rows {base_assign:.1f} s "
          f"({assignments / base_assign:,.0f} rows/s); ratio {assign_s / base_assign:.1f}x", flush=True)

    # 2. The invitations' outbox.
    started = time.perf_counter()
    services.launch_invite(actor=national, launch=launch)
    services.launch_run(launch_id=launch.pk)
    launch.refresh_from_db()
    assert launch.state == "invited", launch.state
    invited = launch.invited_people
    invite_s = time.perf_counter() - started
    recipients, deliveries = Recipient.objects.count(), Delivery.objects.count()
    outbox_rows = recipients + deliveries
    sample = Assignment.objects.select_related("campaign", "person").first()
    assert sample is not None
    link = services.link_url(campaign=sample.campaign, person=sample.person)
    base_outbox = baseline_copy(rows=outbox_rows, columns="id bigint, campaign_id bigint, name text, address text, "
                                "link text", row=(1, "Camille AGENT1", "agent1@hopital.example", link))
    print(f"Load: {machine_load()}", flush=True)
    print(f"Invite: {invited} people, {recipients} recipients + {deliveries} outbox rows in {invite_s:.1f} s = "
          f"{invited / invite_s:,.0f} people/s, {outbox_rows / invite_s:,.0f} rows/s; baseline plain COPY of "
          f"as many rows {base_outbox:.1f} s; ratio {invite_s / base_outbox:.1f}x", flush=True)

    # 3. Progress (60 % of the staff trained) and drills, written directly, then the pages.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE awareness_assignment SET completed_at = now(), best_score = 100, attempts = 1 "
                       "WHERE person_id % 10 < 6")
        cursor.execute("UPDATE awareness_campaign c SET trained = t.n FROM (SELECT campaign_id, count(DISTINCT "
                       "person_id) n FROM awareness_assignment WHERE person_id % 10 < 6 GROUP BY campaign_id) t "
                       "WHERE t.campaign_id = c.id")
        cursor.execute("INSERT INTO awareness_drill (establishment_id, template, population, sent_at, created_at) "
                       "SELECT id, 'carte-cps', '{}'::jsonb, now(), now() FROM directory_establishment WHERE id % 10 = 0")
        cursor.execute("INSERT INTO awareness_drilltarget (drill_id, person_id, department_id, delivered_at, attempts, "
                       "last_error, scans, clicked_at, reported_at) SELECT d.id, m.person_id, m.department_id, now(), "
                       "0, '', 0, "
                       "CASE WHEN m.person_id % 7 = 0 THEN now() END, CASE WHEN m.person_id % 3 = 0 THEN now() END "
                       "FROM awareness_drill d JOIN directory_membership m ON m.establishment_id = d.establishment_id")
        cursor.execute("ANALYZE")

    client = verified_client(national)

    def measure(label: str, path: str) -> float:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"  {label}: median {median * 1000:.0f} ms (min {min(times) * 1000:.0f}, "
              f"max {max(times) * 1000:.0f}) → {'under' if median < 1 else 'OVER'} 1 s", flush=True)
        return median

    print(f"Pages ({args.repeat} runs each), load: {machine_load()}", flush=True)
    for level in ("establishment", "group", "region"):
        measure(f"awareness observatory per {level}", f"/sensibilisation/observatoire/?niveau={level}")
    measure("readiness national observatory (with its staff-trained table)", "/preparation/observatoire/national/")
    print(f"Load after: {machine_load()}", flush=True)


if __name__ == "__main__":
    main()
