"""A regional alert to 100,000 people on PostgreSQL, sent by two worker processes.

Builds a throwaway database `pb_alert_bench` on the server of DATABASE_URL (created,
then dropped), a region of 300 establishments whose people all hold a key function
(director, CISO …), and measures:
- resolving the target "the whole region, everyone" (alerting/targeting.py) and
  turning it into recipients with their contact preferences;
- `campaign_create` (the outbox of 100,000 deliveries in one transaction);
- the time from "send" (start of resolution) to the last message accepted by a local
  aiosmtpd sink, with two `planblanc alert_worker` processes already running;
then checks that every person got exactly one message.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/alert_targeting_pg.py
    DATABASE_URL=… python bench/alert_targeting_pg.py --recipients 20000   # quicker
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import (
    Counting,
    bench_environment,
    campaign_wait_done,
    delivery_states,
    describe_database,
    django_setup,
    start_alert_workers,
    stop_processes,
    throwaway_database,
)

DB_NAME = "pb_alert_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--establishments", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    from tests.support.smtp import SmtpServer

    handler = Counting()
    with throwaway_database(DB_NAME), SmtpServer(handler) as smtp:
        bench_environment("target", PLANBLANC_CHANNELS=json.dumps({"email": [smtp.provider("relay", batch_size=100)]}))
        django_setup()
        from planblanc.accounts.models import RoleAssignment, User
        from planblanc.alerting.services import campaign_create
        from planblanc.alerting.targeting import (
            KEY_FUNCTIONS,
            Target,
            target_recipients,
            target_resolve,
        )
        from planblanc.directory.models import Establishment, Membership, Person, Region
        from planblanc.directory.validators import finess_with_check_digit
        from planblanc.tenancy import Role

        n, m = args.recipients, args.establishments
        t0 = time.perf_counter()
        region = Region.objects.create(code="BEN", name="Région de banc d'essai")
        Establishment.objects.bulk_create([
            Establishment(
                finess=finess_with_check_digit(f"69{i:06d}"), name=f"Établissement {i:03d}", category="ch",
                region=region, is_priority=i % 10 == 0,
            )
            for i in range(m)
        ])
        establishments = list(Establishment.objects.filter(region=region).order_by("pk"))
        people = Person.objects.bulk_create(
            [Person(first_name="Agent", last_name=f"N{i:06d}", email=f"agent{i}@hopital.example") for i in range(n)],
            batch_size=5000,
        )
        Membership.objects.bulk_create(
            [
                Membership(person=person, establishment=establishments[i % m], function=KEY_FUNCTIONS[i % len(KEY_FUNCTIONS)])
                for i, person in enumerate(people)
            ],
            batch_size=5000,
        )
        officer = User.objects.create(username="ars-bench")
        RoleAssignment.objects.create(user=officer, role=Role.REGIONAL_OFFICER, region=region)
        print(f"database: {describe_database()}; {n:,} people in {m} establishments built in "
              f"{time.perf_counter() - t0:.1f} s")

        handler.reset(n)
        workers = start_alert_workers(args.workers, batch=args.batch)
        try:
            start = time.perf_counter()
            reached = target_resolve(user=officer, target=Target(whole_region=True, region_everyone=True), region=region)
            resolved = time.perf_counter()
            recipients = target_recipients(reached=reached, plan=["email"], is_exercise=True)
            prepared = time.perf_counter()
            campaign = campaign_create(
                actor=officer, region=region, title="Cyberattaque régionale", is_exercise=True,
                message_fr="Bonjour {name}, activez la cellule de crise de {establishment}.", recipients=recipients,
            )
            created = time.perf_counter()
            finished = handler.done.wait(1800)
            end = handler.last_at
            status = campaign_wait_done(campaign, timeout=60)
        finally:
            stop_processes(workers)
        if not finished:
            sys.exit(f"only {handler.count} of {n} messages arrived")
        total = end - start
        print(f"recipients: {len(reached):,} (target: whole region, everyone) in "
              f"{len({r.establishment.pk for r in reached})} establishments; workers: {args.workers}")
        print(f"send → last message accepted: {total:.1f} s ({n / total:,.0f} msg/s)")
        print(f"  resolving the target: {resolved - start:.2f} s")
        print(f"  recipients with preferences: {prepared - resolved:.2f} s")
        print(f"  campaign_create (outbox, one transaction): {created - prepared:.2f} s")
        print(f"  sending by the workers: {end - created:.1f} s ({n / (end - created):,.0f} msg/s)")
        print(f"people who got other than exactly one message: {handler.not_once()}; "
              f"messages received: {sum(handler.rcpts.values()):,}; delivery states: {delivery_states(campaign)}")
        print(f"campaign status: {status}")


if __name__ == "__main__":
    main()
