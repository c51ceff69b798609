"""The regional board of a region in crisis, on PostgreSQL: a region of 300
establishments, 40 of them in crisis and linked to the regional crisis cell, 2,000 help
requests (with offers and the alerts sent for them) and 5,000 situation reports.

Creates a throw-away database (`pb_region_bench` on the server of DATABASE_URL), fills it
by bulk_create, then times the regional board page (HTML, as the regional officer gets
it) and its selector, median of several runs, with the number of SQL queries. The same
is measured first on a tenth of the data: the query count must not grow with the data.
Goal: the page under 500 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/region.py
    ... python bench/region.py --repeat 5 --keep
"""

from __future__ import annotations

import argparse
import datetime
import random
import time
from typing import Any

from common import (
    bench_environment,
    django_setup,
    machine_load,
    measure_action,
    throwaway_database,
    verified_client,
)

BENCH_DB = "pb_region_bench"
GOAL_SECONDS = 0.5


def generate(*, code: str, department: int, establishments: int, in_crisis: int, requests: int, reports: int,
             rng: random.Random) -> Any:
    """One region and its data; returns the regional crisis cell."""
    from django.utils import timezone

    from planblanc.crisis.models import Crisis, CrisisStatus, DamageAssessment
    from planblanc.directory.models import Establishment, Group, Region
    from planblanc.directory.validators import finess_with_check_digit
    from planblanc.mutual_aid.models import (
        AidAlert,
        AidOffer,
        HelpRequest,
        RegionalCrisis,
        RegionalLink,
        SituationReport,
    )

    now = timezone.now()
    region = Region.objects.create(code=code, name=f"Région {code}", agency_name=f"ARS {code}")
    groups = Group.objects.bulk_create([Group(code=f"{code}-G{g}", name=f"GHT {code}-{g}", region=region)
                                        for g in range(10)])
    rows = Establishment.objects.bulk_create([
        Establishment(finess=finess_with_check_digit(f"{department:02d}{i:06d}"), name=f"Établissement {code}-{i:03d}",
                      category="ch", region=region, group=groups[i % 10] if i % 3 else None)
        for i in range(establishments)
    ])
    crises = Crisis.objects.bulk_create([
        Crisis(establishment=e, kind="ransomware", severity="major", first_facts="bench", declared_by_label="bench",
               declared_at=now - datetime.timedelta(hours=rng.randint(5, 72)), status=CrisisStatus.ACTIVE)
        for e in rows[:in_crisis]
    ])
    # As crisis_declare does: every declared crisis has its damage assessment.
    DamageAssessment.objects.bulk_create([DamageAssessment(crisis=c) for c in crises])
    cell = Crisis.objects.create(region=region, kind="unknown", severity="major", first_facts="bench",
                                 declared_by_label="bench")
    regional = RegionalCrisis.objects.create(region=region, crisis=cell, title=f"Crise régionale {code}",
                                             opened_by_label="bench")
    RegionalLink.objects.bulk_create([RegionalLink(regional_crisis=regional, crisis=c) for c in crises])
    statuses = ["open", "offered", "committed", "delivered", "returned"]
    help_requests = HelpRequest.objects.bulk_create([
        HelpRequest(
            requester=crises[i % in_crisis].establishment, crisis=crises[i % in_crisis], region=region,
            target_kind="region", target_region=region, kind="equipment", what=f"Ressource {i}",
            quantity=rng.randint(1, 30), urgency="urgent", deliver_to="Hall", created_by_label="bench",
            status=rng.choice(statuses), created_at=now - datetime.timedelta(minutes=rng.randint(1, 4000)),
        ) for i in range(requests)
    ], batch_size=2000)
    AidOffer.objects.bulk_create([
        AidOffer(request=r, level="region", offerer_region=region, offerer_label="ARS", what=r.what, quantity=1,
                 created_by_label="bench") for r in help_requests if r.status != "open"
    ], batch_size=2000)
    AidAlert.objects.bulk_create([
        AidAlert(region=region, request=r, purpose="new_request", audience="bench") for r in help_requests
    ], batch_size=2000)
    SituationReport.objects.bulk_create([
        SituationReport(
            establishment=crises[i % in_crisis].establishment, crisis=crises[i % in_crisis], region=region,
            at=now - datetime.timedelta(minutes=5 * (reports - i)), author_label="bench",
            ed_status=rng.choice(["open", "restricted", "diverted"]), beds_deprogrammed=rng.randint(0, 50),
            next_report_at=now + datetime.timedelta(hours=rng.choice([-1, 2, 4])),
        ) for i in range(reports)
    ], batch_size=2000)
    return regional


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    with throwaway_database(BENCH_DB, keep=args.keep):
        bench_environment("region", PLANBLANC_ALLOWED_HOSTS="testserver")
        run(args)


def run(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import connection

    from planblanc.accounts.models import RoleAssignment, User
    from planblanc.mutual_aid.selectors import regional_board
    from planblanc.tenancy import Role

    rng = random.Random(20261205)
    print("Generating a small region (30 establishments, 4 in crisis, 200 requests, 500 reports) and the "
          "bench region (300, 40, 2,000, 5,000)…", flush=True)
    started = time.perf_counter()
    small = generate(code="RSMALL", department=11, establishments=30, in_crisis=4, requests=200, reports=500, rng=rng)
    big = generate(code="RBIG", department=12, establishments=300, in_crisis=40, requests=2000, reports=5000, rng=rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)

    def officer_client(regional: Any) -> Any:
        user = User.objects.create(username=f"officer-{regional.region.code}")
        RoleAssignment.objects.create(user=user, role=Role.REGIONAL_OFFICER, region=regional.region)
        return verified_client(user)

    results = {}
    print(f"Timings ({args.repeat} runs each):", flush=True)
    for name, regional in (("small", small), ("bench", big)):
        client = officer_client(regional)
        url = f"/entraide/region/{regional.pk}/"
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert response.content.count(b"list-group-item") >= len(regional.links.all())
        results[name] = {
            "selector": measure_action(f"{name} region: board selector", lambda r=regional: regional_board(regional=r),
                                args.repeat),
            "page": measure_action(f"{name} region: board page (HTML)", lambda c=client, u=url: c.get(u), args.repeat),
        }
    page_median, page_queries = results["bench"]["page"]
    small_queries = results["small"]["page"][1]
    print(f"Goal: regional board page under {GOAL_SECONDS * 1000:.0f} ms → median {page_median * 1000:.0f} ms, "
          f"ratio to the goal {page_median / GOAL_SECONDS:.2f} ({'met' if page_median < GOAL_SECONDS else 'MISSED'}).")
    print(f"Query count: {small_queries} on the small region, {page_queries} on the bench region "
          f"({'constant' if small_queries == page_queries else 'GROWS WITH THE DATA'}).")
    print(f"Machine: {machine_load()}")


if __name__ == "__main__":
    main()
