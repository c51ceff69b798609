"""10,000 recipients by email to a local SMTP server (aiosmtpd), on the embedded SQLite
default, against a bare smtplib loop over one connection in the same run.

Measures, for the platform: the time from "send" (campaign_create: the outbox of
10,000 deliveries written in one transaction) to the last message accepted by the
server, with one `planblanc alert_worker` process already running, as deployed. For
the baseline: the same number of messages from a bare smtplib loop in its own process.
Then checks that every recipient got exactly one message.

    python bench/alert_email.py                      # 10,000 recipients, SQLite in a temp dir
    python bench/alert_email.py --recipients 2000    # quicker
    DATABASE_URL=postgres://postgres@127.0.0.1/bench_pb python bench/alert_email.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import (
    Counting,
    bench_environment,
    bench_establishment,
    campaign_wait_done,
    delivery_states,
    describe_database,
    django_setup,
    start_alert_workers,
    stop_processes,
)

BARE_LOOP = r"""
import smtplib, sys, time
from email import quoprimime
from email.header import Header
from email.utils import formataddr, formatdate
port, count = int(sys.argv[1]), int(sys.argv[2])
start = time.perf_counter()
with smtplib.SMTP("127.0.0.1", port) as conn:
    for i in range(count):
        # The same message as the platform's, written out the same way.
        body = f"Bonjour Agent {i}, la cellule de crise se réunit salle B.\r\n\r\nPour accuser réception : http://localhost:8000/ack/{i}/\r\n"
        msg = "\r\n".join([
            f"From: {formataddr(('Plan Blanc Numérique', 'alerte@planblanc.invalid'), 'utf-8')}",
            f"To: {formataddr((f'Agent {i}', f'bare{i}@hopital.example'), 'utf-8')}",
            f"Subject: {Header('Cyberattaque: rejoignez la cellule', 'utf-8', header_name='Subject').encode()}",
            f"Message-ID: <bare.{i}@planblanc.invalid>", f"Date: {formatdate(usegmt=True)}",
            "MIME-Version: 1.0", 'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
        ]) + "\r\n\r\n" + quoprimime.body_encode(body.encode().decode("latin-1"), eol="\r\n")
        conn.sendmail("alerte@planblanc.invalid", [f"bare{i}@hopital.example"], msg)
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200, help="deliveries claimed at a time")
    args = parser.parse_args()
    n = args.recipients

    bench_environment("alert")
    from tests.support.smtp import SmtpServer

    handler = Counting()
    with SmtpServer(handler) as smtp:
        os.environ["PLANBLANC_CHANNELS"] = json.dumps({"email": [smtp.provider("relay", batch_size=100)]})
        django_setup()
        print(f"database: {describe_database()}")

        # Baseline: a bare smtplib loop, one connection, in its own process.
        handler.reset(n)
        bare = subprocess.run(
            [sys.executable, "-c", BARE_LOOP, str(smtp.port), str(n)], capture_output=True, text=True, check=True
        )
        bare_seconds = float(bare.stdout.strip())
        assert handler.done.wait(30) and handler.count == n
        bare_rate = n / bare_seconds

        # The platform: one worker process running and idle, as deployed.
        handler.reset(n)
        workers = start_alert_workers(batch=args.batch)

        from planblanc.actors import SystemActor
        from planblanc.alerting.services import RecipientInput, campaign_create

        establishment = bench_establishment(finess="69888888", name="CH du banc")
        recipients = [RecipientInput(name=f"Agent {i}", email=f"agent{i}@hopital.example") for i in range(n)]
        start = time.perf_counter()
        campaign = campaign_create(
            actor=SystemActor("bench", sends_alerts=True), establishment=establishment,
            title="Cyberattaque: rejoignez la cellule",
            message_fr="Bonjour {name}, la cellule de crise se réunit salle B.", recipients=recipients,
        )
        created = time.perf_counter()
        finished = handler.done.wait(600)
        end = handler.last_at
        # The last message is accepted; let the worker record it, then stop it.
        status = campaign_wait_done(campaign, timeout=30)
        stop_processes(workers, timeout=10)
    if not finished:
        sys.exit(f"only {handler.count} of {n} messages arrived")

    platform_seconds = end - start
    send_seconds = end - created
    platform_rate = n / platform_seconds
    ratio = platform_rate / bare_rate

    print(f"recipients: {n}")
    print(f"bare smtplib loop, one connection: {bare_seconds:.2f} s ({bare_rate:,.0f} msg/s)")
    print(f"platform, send → last message accepted: {platform_seconds:.2f} s ({platform_rate:,.0f} msg/s)")
    print(f"  of which writing the campaign (outbox, one transaction): {created - start:.2f} s")
    print(f"  of which sending by the worker: {send_seconds:.2f} s ({n / send_seconds:,.0f} msg/s)")
    print(f"throughput ratio platform / bare loop: {ratio:.2f}  (goal ≥ 0.50)")
    print(f"goal < 60 s: {'met' if platform_seconds < 60 else 'NOT met'}; ratio goal: {'met' if ratio >= 0.5 else 'NOT met'}")
    print(f"recipients with other than exactly one message: {handler.not_once()}; "
          f"delivery states: {delivery_states(campaign)}")
    print(f"campaign status: {status}")


if __name__ == "__main__":
    main()
