"""How long the crisis cell's alert takes while a national awareness round is going out,
on PostgreSQL, with two `planblanc alert_worker` processes and a local aiosmtpd sink.

Builds a throwaway database `pb_priority_bench` on the server of DATABASE_URL (created,
then dropped), one establishment with `--bulk` staff and a crisis cell of 25, and
measures, in the same run:
1. the baseline: the cell's alert (25 emails, urgent) with an empty outbox, from
   `campaign_create` to the 25th message accepted by the sink;
2. the same alert written while `--bulk` awareness invitations (bulk) are queued and
   being sent: its time, the ratio to the baseline, and how many invitations went out
   between the alert's writing and its last message;
3. the check a bulk batch makes before its messages (`urgent_due`, an indexed EXISTS),
   median of 200 with the invitations queued.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/alert_priority.py
    DATABASE_URL=… python bench/alert_priority.py --bulk 20000   # quicker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from common import (
    Counting,
    bench_environment,
    describe_database,
    django_setup,
    machine_load,
    percentile,
    start_alert_workers,
    stop_processes,
    throwaway_database,
    timings,
)

DB_NAME = "pb_priority_bench"
CELL = 25


class CellWatch(Counting):
    """Counts every message, and notes when the cell's last one arrives and how many
    invitations were accepted before it."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = 0
        self.cell_at = 0.0
        self.invitations = 0
        self.invitations_at_cell = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                if rcpt.startswith("cellule"):
                    self.cell += 1
                    if self.cell % CELL == 0:
                        self.cell_at = time.perf_counter()
                        self.invitations_at_cell = self.invitations
                else:
                    self.invitations += 1
        return answer

    def wait_cell(self, rounds: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.cell < rounds * CELL and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.cell >= rounds * CELL


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bulk", type=int, default=100_000, help="awareness invitations queued")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from tests.support.smtp import SmtpServer

    sink = CellWatch()
    with throwaway_database(DB_NAME), SmtpServer(sink) as smtp:
        bench_environment("priority", PLANBLANC_CHANNELS=json.dumps({"email": [smtp.provider("relay")]}))
        django_setup()
        from planblanc.accounts.models import RoleAssignment, User
        from planblanc.alerting.models import Priority
        from planblanc.alerting.services import RecipientInput, campaign_create
        from planblanc.alerting.services.sending import urgent_due
        from planblanc.directory.models import Establishment, Region
        from planblanc.directory.validators import finess_with_check_digit
        from planblanc.tenancy import Role

        region = Region.objects.create(code="BEN", name="Région de banc d'essai")
        chu = Establishment.objects.create(finess=finess_with_check_digit("69000001"), name="CHU de banc d'essai",
                                           category="chu", region=region)
        admin = User.objects.create(username="admin-bench")
        RoleAssignment.objects.create(user=admin, role=Role.ESTABLISHMENT_ADMIN, establishment=chu)
        cell = [RecipientInput(name=f"Membre {i}", email=f"cellule{i}@hopital.example") for i in range(CELL)]

        def alert() -> float:
            start = time.perf_counter()
            campaign_create(actor=admin, establishment=chu, title="Cyberattaque", recipients=cell,
                            message_fr="Bonjour {name}, rejoignez la cellule de crise.")
            return start

        workers = start_alert_workers(args.workers)
        try:
            # 1. Baseline: the outbox is empty.
            start = alert()
            if not sink.wait_cell(1, 120):
                sys.exit("the baseline alert did not arrive")
            baseline = sink.cell_at - start

            # 2. The invitations, then the alert once they are flowing.
            staff = [RecipientInput(name=f"Agent {i}", email=f"agent{i}@hopital.example") for i in range(args.bulk)]
            written = flowing = time.perf_counter()
            campaign_create(actor=admin, establishment=chu, title="Sensibilisation annuelle", recipients=staff,
                            message_fr="Bonjour {name}, votre formation vous attend.", priority=Priority.BULK)
            flowing = time.perf_counter()
            written = flowing - written
            while sink.invitations < min(2000, args.bulk // 2):
                time.sleep(0.01)
            before = sink.invitations
            start = alert()
            if not sink.wait_cell(2, 300):
                sys.exit("the alert did not arrive behind the invitations")
            loaded = sink.cell_at - start
            between = sink.invitations_at_cell - before

            # 3. The look a bulk batch takes before a message, with the invitations queued.
            looks = timings(urgent_due, 200)
            queued = args.bulk - sink.invitations
            rate = sink.invitations / (time.perf_counter() - flowing)
        finally:
            stop_processes(workers)
    print(f"database: {describe_database()}; {args.workers} workers; {machine_load()}")
    print(f"invitations written (campaign_create, bulk): {args.bulk:,} in {written:.1f} s")
    print(f"crisis cell alert, {CELL} emails, outbox empty (baseline): {baseline * 1000:.0f} ms")
    print(f"the same alert while the invitations go out: {loaded * 1000:.0f} ms "
          f"({loaded / baseline:.2f}× the baseline); {between:,} invitations accepted meanwhile, "
          f"about {queued:,} still queued at the end")
    print(f"invitations sent at {rate:,.0f}/s: behind a first-in first-out outbox the alert would have "
          f"waited for the {args.bulk - before:,} invitations queued before it, about {(args.bulk - before) / rate:,.0f} s")
    print(f"urgent_due() with the invitations queued: median {percentile(looks, 50) * 1000:.2f} ms, "
          f"p95 {percentile(looks, 95) * 1000:.2f} ms (200 calls)")


if __name__ == "__main__":
    main()
