"""Directory pages and API at national scale, and what tenancy costs.

Builds a synthetic directory (default: 18 regions, 3,000 establishments, 60,000 people)
in a throw-away database, then times the establishment and people lists (page and API)
for a national administrator (no scope filter: the baseline) and for a regional officer
and an establishment administrator (scoped), in the same run. Prints medians, p95,
queries per request and the ratio scoped / baseline.

    python bench/directory_pages.py                       # SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1/bench_pb python bench/directory_pages.py
    python bench/directory_pages.py --establishments 500 --people 10000   # quicker
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import (
    bench_environment,
    count_queries,
    describe_database,
    django_setup,
    machine_load,
    percentile,
    timings,
    verified_client,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=18)
    parser.add_argument("--establishments", type=int, default=3000)
    parser.add_argument("--people", type=int, default=60000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()

    bench_environment("directory", PLANBLANC_ALLOWED_HOSTS="testserver")
    django_setup()
    from planblanc.accounts.models import RoleAssignment, User
    from planblanc.directory.models import Establishment, Group, Membership, Person, Region
    from planblanc.directory.validators import finess_with_check_digit
    from planblanc.tenancy import Role

    if not Region.objects.filter(code="B00").exists():
        started = time.perf_counter()
        regions = Region.objects.bulk_create(
            [Region(code=f"B{r:02d}", name=f"Région {r}") for r in range(args.regions)]
        )
        groups = Group.objects.bulk_create(
            [Group(code=f"G{r:02d}-{g}", name=f"GHT {r}-{g}", region=regions[r]) for r in range(args.regions) for g in range(6)]
        )
        establishments = Establishment.objects.bulk_create([
            Establishment(
                finess=finess_with_check_digit(f"{(n % 95) + 1:02d}{n:06d}") if (n % 95) + 1 != 20 else finess_with_check_digit(f"21{n:06d}"),
                name=f"Établissement {n}", category="ch", region=regions[n % args.regions],
                group=groups[(n % args.regions) * 6 + (n // args.regions) % 6], city=f"Ville {n % 500}",
            )
            for n in range(args.establishments)
        ], batch_size=1000)
        people = Person.objects.bulk_create([
            Person(first_name="Camille", last_name=f"Nom{n:06d}", email=f"p{n}@bench.example", mobile_phone=f"+3363998{n % 10000:04d}")
            for n in range(args.people)
        ], batch_size=2000)
        Membership.objects.bulk_create([
            Membership(person=person, establishment=establishments[n % len(establishments)], function="staff")
            for n, person in enumerate(people)
        ], batch_size=2000)
        national = User.objects.create_user("bench.national", password="x" * 12)
        regional = User.objects.create_user("bench.regional", password="x" * 12)
        local = User.objects.create_user("bench.local", password="x" * 12)
        RoleAssignment.objects.create(user=national, role=Role.NATIONAL_ADMIN)
        RoleAssignment.objects.create(user=regional, role=Role.REGIONAL_OFFICER, region=regions[0])
        RoleAssignment.objects.create(user=local, role=Role.CRISIS_MEMBER, establishment=establishments[0])
        print(f"data built in {time.perf_counter() - started:.1f} s "
              f"({args.regions} regions, {args.establishments} establishments, {args.people} people)")

    personas = {persona: verified_client(User.objects.get(username=username)) for persona, username in (
        ("national (baseline)", "bench.national"), ("regional", "bench.regional"), ("establishment", "bench.local"))}
    urls = {
        "establishment list page": "/annuaire/etablissements/",
        "people list page": "/annuaire/personnes/",
        "people search page": "/annuaire/personnes/?q=Nom0001",
        "API people (limit 100)": "/api/v1/directory/people?limit=100",
        "API establishments (limit 100)": "/api/v1/directory/establishments?limit=100",
    }
    print(f"database: {describe_database()}; {args.repeat} requests per measure; times in ms; {machine_load()}")
    print(f"{'measure':<32}{'persona':<22}{'median':>9}{'p95':>9}{'queries':>9}{'ratio':>8}")
    for label, url in urls.items():
        baseline = None
        for persona, client in personas.items():
            response = client.get(url)
            assert response.status_code == 200, (url, persona, response.status_code)
            queries = count_queries(lambda client=client, url=url: client.get(url))
            times = [seconds * 1000 for seconds in timings(lambda client=client, url=url: client.get(url), args.repeat)]
            median = statistics.median(times)
            baseline = baseline or median
            print(f"{label:<32}{persona:<22}{median:>9.1f}{percentile(times, 95):>9.1f}{queries:>9}"
                  f"{median / baseline:>8.2f}")


if __name__ == "__main__":
    main()
