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
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

DB_NAME = "pb_alert_bench"


def _admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--establishments", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("DATABASE_URL=postgres://… is required (a throwaway database is created on that server)")
    bench_url = urlunsplit(urlsplit(base_url)._replace(path=f"/{DB_NAME}"))
    _admin(base_url, f"DROP DATABASE IF EXISTS {DB_NAME}")
    _admin(base_url, f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("PLANBLANC_DATA_DIR", tempfile.mkdtemp(prefix="pb-bench-target-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    os.environ["PLANBLANC_LOG_LEVEL"] = "WARNING"
    workers: list[subprocess.Popen[bytes]] = []
    controller = None
    try:
        import logging

        from aiosmtpd.controller import Controller
        from alert_email import Counting

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        handler = Counting()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        os.environ["PLANBLANC_CHANNELS"] = json.dumps(
            {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": port, "batch_size": 100}]}
        )

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)

        from planblanc.accounts.models import RoleAssignment, User
        from planblanc.alerting.models import Campaign, Delivery
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
        print(f"database: {connection.vendor} {DB_NAME}; {n:,} people in {m} establishments built in "
              f"{time.perf_counter() - t0:.1f} s")

        handler.reset(n)
        for _index in range(args.workers):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "planblanc", "alert_worker", "--interval", "0.1", "--batch", str(args.batch),
                 "-v", "0"],
                env={**os.environ}, cwd=ROOT,
            ))
        time.sleep(3)  # let them start and go idle

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
        deadline = time.monotonic() + 60
        while Campaign.objects.get(pk=campaign.pk).status != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        if not finished:
            sys.exit(f"only {handler.count} of {n} messages arrived")
        duplicates = sum(1 for count in handler.rcpts.values() if count != 1)
        statuses = dict(Counter(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)))
        total = end - start
        print(f"recipients: {len(reached):,} (target: whole region, everyone) in "
              f"{len({r.establishment.pk for r in reached})} establishments; workers: {args.workers}")
        print(f"send → last message accepted: {total:.1f} s ({n / total:,.0f} msg/s)")
        print(f"  resolving the target: {resolved - start:.2f} s")
        print(f"  recipients with preferences: {prepared - resolved:.2f} s")
        print(f"  campaign_create (outbox, one transaction): {created - prepared:.2f} s")
        print(f"  sending by the workers: {end - created:.1f} s ({n / (end - created):,.0f} msg/s)")
        print(f"people who got other than exactly one message: {duplicates}; "
              f"messages received: {sum(handler.rcpts.values()):,}; delivery states: {statuses}")
        print(f"campaign status: {Campaign.objects.get(pk=campaign.pk).status}")
        connection.close()
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        if controller is not None:
            controller.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001,S110 - django may not be set up
            pass
        _admin(base_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
