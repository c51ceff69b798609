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
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


class QueryCounter(list):
    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.append(sql)
        return execute(sql, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=18)
    parser.add_argument("--establishments", type=int, default=3000)
    parser.add_argument("--people", type=int, default=60000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()

    os.environ.setdefault("PLANBLANC_DATA_DIR", tempfile.mkdtemp(prefix="pb-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    os.environ["PLANBLANC_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client

    call_command("migrate", verbosity=0)
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

    def client_for(username: str) -> Client:
        client = Client()
        client.force_login(User.objects.get(username=username), backend="django.contrib.auth.backends.ModelBackend")
        return client

    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def verified(username: str) -> Client:
        client = client_for(username)
        user = User.objects.get(username=username)
        device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    personas = {"national (baseline)": verified("bench.national"), "regional": verified("bench.regional"),
                "establishment": verified("bench.local")}
    urls = {
        "establishment list page": "/annuaire/etablissements/",
        "people list page": "/annuaire/personnes/",
        "people search page": "/annuaire/personnes/?q=Nom0001",
        "API people (limit 100)": "/api/v1/directory/people?limit=100",
        "API establishments (limit 100)": "/api/v1/directory/establishments?limit=100",
    }
    print(f"database: {connection.vendor}; {args.repeat} requests per measure; times in ms")
    print(f"{'measure':<32}{'persona':<22}{'median':>9}{'p95':>9}{'queries':>9}{'ratio':>8}")
    for label, url in urls.items():
        baseline = None
        for persona, client in personas.items():
            response = client.get(url)
            assert response.status_code == 200, (url, persona, response.status_code)
            executed = QueryCounter()
            with connection.execute_wrapper(executed):
                client.get(url)
            timings = []
            for _ in range(args.repeat):
                reset_queries()
                started = time.perf_counter()
                client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            median = statistics.median(timings)
            p95 = sorted(timings)[max(0, int(len(timings) * 0.95) - 1)]
            baseline = baseline or median
            print(f"{label:<32}{persona:<22}{median:>9.1f}{p95:>9.1f}{len(executed):>9}{median / baseline:>8.2f}")


if __name__ == "__main__":
    main()
