"""10,000 SMS through a real Kannel (bearerbox + smsbox) to its fake SMSC (fakesmsc),
with one `planblanc alert_worker` process running as deployed, on the embedded SQLite
default (or DATABASE_URL). Measures the time from "send" (campaign_create) to the last
message printed by fakesmsc, and checks that every number got exactly one message.
Kannel must be installed (apt-get install kannel kannel-extras).

    python bench/sms_kannel.py                    # 10,000 recipients
    python bench/sms_kannel.py --recipients 1000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    n = args.recipients

    data_dir = os.environ.setdefault("PLANBLANC_DATA_DIR", tempfile.mkdtemp(prefix="pb-bench-sms-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    os.environ["PLANBLANC_LOG_LEVEL"] = "WARNING"

    from tests.support.kannel import running_kannel

    # Delivery reports would go to a platform web server, which this bench does not
    # run: none is asked for (dlr_mask 0); the tests cover them.
    with running_kannel("http://127.0.0.1:9") as kannel:
        os.environ["PLANBLANC_CHANNELS"] = json.dumps({"sms": [kannel.provider(dlr_mask=0)]})

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        print(f"database: {connection.vendor} ({data_dir if connection.vendor == 'sqlite' else connection.settings_dict['NAME']})")

        worker = subprocess.Popen(
            [sys.executable, "-m", "planblanc", "alert_worker", "--interval", "0.1", "-v", "0"],
            env={**os.environ}, cwd=ROOT, stderr=subprocess.PIPE,
        )
        time.sleep(3)

        from planblanc.actors import SystemActor
        from planblanc.alerting.models import Delivery
        from planblanc.alerting.services import RecipientInput, campaign_create
        from planblanc.directory.models import Establishment, Region
        from planblanc.directory.validators import finess_with_check_digit

        region, _ = Region.objects.get_or_create(code="BEN", defaults={"name": "Région de banc d'essai"})
        establishment, _ = Establishment.objects.get_or_create(
            finess=finess_with_check_digit("69666666"), defaults={"name": "CH du SMS", "category": "ch", "region": region}
        )
        recipients = [RecipientInput(name=f"Agent {i}", mobile_phone=f"+336{i:08d}") for i in range(n)]
        start = time.perf_counter()
        campaign = campaign_create(
            actor=SystemActor("bench", sends_alerts=True), establishment=establishment, title="Cyberattaque",
            message_fr="Rejoignez la cellule de crise.", recipients=recipients, channels=["sms"],
        )
        created = time.perf_counter()
        last_count, last_change = 0, time.perf_counter()
        while True:
            count = sum(len(texts) for texts in kannel.messages().values())
            now = time.perf_counter()
            if count != last_count:
                last_count, last_change = count, now
            if count >= n or now - last_change > 30:
                break
            time.sleep(0.2)
        end = last_change
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
        # Whole messages: the parts of a concatenated SMS put back together.
        numbers = Counter({number: len(texts) for number, texts in kannel.messages().items()})
        parts = len(kannel.received())

    statuses = dict(Counter(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)))
    total = end - start
    print(f"recipients: {n}")
    print(f"send → last SMS printed by fakesmsc: {total:.2f} s ({n / total:,.0f} SMS/s)")
    print(f"  of which writing the campaign (outbox, one transaction): {created - start:.2f} s")
    print(f"numbers reached: {len(numbers)}; with other than exactly one SMS: {sum(1 for c in numbers.values() if c != 1)}")
    print(f"delivery states: {statuses}")
    print(f"SMS parts printed by fakesmsc: {parts} (long messages go as concatenated parts)")


if __name__ == "__main__":
    main()
