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
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

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


class Counting:
    """An SMTP handler that only counts, and notes when the target count is reached."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rcpts: Counter[str] = Counter()
        self.message_ids: dict[str, set[str]] = {}
        self.count = 0
        self.target = 0
        self.done = threading.Event()
        self.last_at = 0.0

    def reset(self, target: int) -> None:
        with self.lock:
            self.rcpts.clear()
            self.message_ids.clear()
            self.count = 0
            self.target = target
            self.done.clear()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = ""
        for line in envelope.content.split(b"\r\n", 40):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
                break
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.rcpts[rcpt] += 1
                self.message_ids.setdefault(rcpt, set()).add(message_id)
            self.count += len(envelope.rcpt_tos)
            if self.count >= self.target:
                self.last_at = time.perf_counter()
                self.done.set()
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200, help="deliveries claimed at a time")
    args = parser.parse_args()
    n = args.recipients

    data_dir = os.environ.setdefault("PLANBLANC_DATA_DIR", tempfile.mkdtemp(prefix="pb-bench-alert-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    os.environ["PLANBLANC_LOG_LEVEL"] = "WARNING"

    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = Counting()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    channels = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": port, "batch_size": 100}]}
    os.environ["PLANBLANC_CHANNELS"] = json.dumps(channels)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({data_dir if connection.vendor == 'sqlite' else connection.settings_dict['NAME']})")

    # Baseline: a bare smtplib loop, one connection, in its own process.
    handler.reset(n)
    bare = subprocess.run(
        [sys.executable, "-c", BARE_LOOP, str(port), str(n)], capture_output=True, text=True, check=True
    )
    bare_seconds = float(bare.stdout.strip())
    assert handler.done.wait(30) and handler.count == n
    bare_rate = n / bare_seconds

    # The platform: one worker process running and idle, as deployed.
    handler.reset(n)
    env = {**os.environ}
    worker = subprocess.Popen(
        [sys.executable, "-m", "planblanc", "alert_worker", "--interval", "0.1", "--batch", str(args.batch), "-v", "0"],
        env=env, cwd=ROOT, stderr=subprocess.PIPE,
    )
    time.sleep(3)  # let it start and go idle

    from planblanc.actors import SystemActor
    from planblanc.alerting.models import Campaign, Delivery
    from planblanc.alerting.services import RecipientInput, campaign_create
    from planblanc.directory.models import Establishment, Region
    from planblanc.directory.validators import finess_with_check_digit

    region, _ = Region.objects.get_or_create(code="BEN", defaults={"name": "Région de banc d'essai"})
    establishment, _ = Establishment.objects.get_or_create(
        finess=finess_with_check_digit("69888888"), defaults={"name": "CH du banc", "category": "ch", "region": region}
    )
    recipients = [RecipientInput(name=f"Agent {i}", email=f"agent{i}@hopital.example") for i in range(n)]
    start = time.perf_counter()
    campaign = campaign_create(
        actor=SystemActor("bench", sends_alerts=True), establishment=establishment, title="Cyberattaque: rejoignez la cellule",
        message_fr="Bonjour {name}, la cellule de crise se réunit salle B.", recipients=recipients,
    )
    created = time.perf_counter()
    finished = handler.done.wait(600)
    end = handler.last_at
    # The last message is accepted; let the worker record it, then stop it.
    deadline = time.monotonic() + 30
    while Campaign.objects.get(pk=campaign.pk).status != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
    controller.stop()
    if not finished:
        sys.exit(f"only {handler.count} of {n} messages arrived")

    platform_seconds = end - start
    send_seconds = end - created
    platform_rate = n / platform_seconds
    duplicates = sum(1 for count in handler.rcpts.values() if count != 1)
    statuses = dict(Counter(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)))
    ratio = platform_rate / bare_rate

    print(f"recipients: {n}")
    print(f"bare smtplib loop, one connection: {bare_seconds:.2f} s ({bare_rate:,.0f} msg/s)")
    print(f"platform, send → last message accepted: {platform_seconds:.2f} s ({platform_rate:,.0f} msg/s)")
    print(f"  of which writing the campaign (outbox, one transaction): {created - start:.2f} s")
    print(f"  of which sending by the worker: {send_seconds:.2f} s ({n / send_seconds:,.0f} msg/s)")
    print(f"throughput ratio platform / bare loop: {ratio:.2f}  (goal ≥ 0.50)")
    print(f"goal < 60 s: {'met' if platform_seconds < 60 else 'NOT met'}; ratio goal: {'met' if ratio >= 0.5 else 'NOT met'}")
    print(f"recipients with other than exactly one message: {duplicates}; delivery states: {statuses}")
    print(f"campaign status: {Campaign.objects.get(pk=campaign.pk).status}")


if __name__ == "__main__":
    main()
