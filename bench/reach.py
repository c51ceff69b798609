"""Time to reach everyone, against the providers' declared capacity.

N recipients, each by email AND SMS at once (campaign mode "parallel"), on PostgreSQL
with two `planblanc alert_worker` processes as deployed. Email goes to an aiosmtpd sink;
SMS go through a real Kannel to TWO fake SMSCs, each limited to 30 messages/s by
Kannel's own `throughput` setting, and declared in PLANBLANC_CHANNELS at 30/s each.

Printed: the physical limit computed from the declared capacities, the preview's
estimate (alerting/capacity.py, what the target preview shows), the measured time from
"send" (campaign_create) to the last message accepted by a provider, their ratio (goal:
within 10 %), and the most messages each fake SMSC received within any one second
(goal: never above its declared 30).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/reach.py
    DATABASE_URL=… python bench/reach.py --recipients 10000     # ~3 min of SMS at 60/s

A throwaway database `pb_reach_bench` is created on that server and dropped at the end.
Kannel must be installed (apt-get install kannel kannel-extras).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from common import (
    bench_environment,
    bench_establishment,
    delivery_states,
    django_setup,
    machine_load,
    start_alert_workers,
    stop_processes,
    throwaway_database,
)

DB_NAME = "pb_reach_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1800)
    parser.add_argument("--sms-rate", type=float, default=30.0, help="declared and Kannel throughput, per link")
    parser.add_argument("--email-rate", type=float, default=200.0, help="declared capacity of the SMTP relay")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4, help="connections per SMS link and worker")
    args = parser.parse_args()
    n = args.recipients
    from tests.support.kannel import running_kannel_pair
    from tests.support.smtp import SmtpServer

    with (throwaway_database(DB_NAME), running_kannel_pair((args.sms_rate, args.sms_rate)) as kannel,
          SmtpServer() as smtp):
        sms = [{**kannel.provider(link), "dlr_mask": 0, "connections": args.connections} for link in kannel.links]
        bench_environment("reach", PLANBLANC_CHANNELS=json.dumps({
            "email": [smtp.provider("relay", rate=args.email_rate)], "sms": sms,
        }))
        django_setup()
        from django.db import connection

        from planblanc.actors import SystemActor
        from planblanc.alerting.capacity import reach_estimate
        from planblanc.alerting.models import Delivery
        from planblanc.alerting.services import RecipientInput, campaign_create

        connection.close()
        workers = start_alert_workers(args.workers)
        try:
            establishment = bench_establishment(finess="69666667", name="CH de la portée")
            recipients = [
                RecipientInput(name=f"Agent {i}", email=f"agent{i}@example.org", mobile_phone=f"+336{i:08d}")
                for i in range(n)
            ]
            estimate = reach_estimate({"email": n, "sms": n})
            start_wall = time.time()
            start = time.monotonic()
            campaign = campaign_create(
                actor=SystemActor("bench", sends_alerts=True), establishment=establishment, title="Cyberattaque",
                message_fr="Rejoignez la cellule.", recipients=recipients, channels=["email", "sms"],
                mode="parallel",
            )
            created = time.monotonic() - start
            deadline = time.monotonic() + n / (2 * args.sms_rate) * 3 + 60
            while time.monotonic() < deadline:
                if kannel.received() >= n and len(smtp.recorder.received) >= n:
                    break
                time.sleep(0.2)
            load = machine_load()
        finally:
            stop_processes(workers)

        rows = Delivery.objects.filter(campaign=campaign)
        last_sms = max(rows.filter(channel="sms").values_list("sent_at", flat=True))
        last_email = max(rows.filter(channel="email").values_list("sent_at", flat=True))
        measured = max(last_sms.timestamp(), last_email.timestamp()) - start_wall
        limit = max(n / (2 * args.sms_rate), n / args.email_rate)
        preview = max(e.seconds or 0 for e in estimate)
        per_provider = dict(Counter(rows.filter(channel="sms").values_list("provider", flat=True)))
        print(f"recipients: {n} (each by email and SMS at once), {args.workers} workers, PostgreSQL")
        print(f"machine at the end: {load}")
        print(f"declared: email {args.email_rate:g}/s; SMS {args.sms_rate:g}/s on each of 2 Kannel links")
        print(f"physical limit from the declared capacities: {limit:.1f} s")
        print("preview's estimate: " + "; ".join(e.text for e in estimate) + f" → {preview:.1f} s")
        print(f"measured, send → last message accepted: {measured:.1f} s "
              f"(last email {last_email.timestamp() - start_wall:.1f} s, last SMS {last_sms.timestamp() - start_wall:.1f} s; "
              f"writing the campaign {created:.1f} s)")
        print(f"ratio measured / limit: {measured / limit:.3f} (goal ≤ 1.10)")
        for link in kannel.links:
            # Arrival times are when the bench reads the fake SMSC's output, which comes in
            # small bursts: the 1 s figure carries that jitter, the 10 s one much less.
            print(f"fake SMSC {link.name}: {len(link.arrivals)} SMS, most in any 1 s: {link.max_in_window(1.0)}, "
                  f"in any 10 s: {link.max_in_window(10.0)} = {link.max_in_window(10.0) / 10:.1f}/s "
                  f"(declared {link.throughput:g}/s)")
        print(f"SMS per provider: {per_provider}")
        print(f"emails received by the sink: {len(smtp.recorder.received)}; "
              f"delivery states: {delivery_states(campaign, 'channel', 'status')}")


if __name__ == "__main__":
    main()
