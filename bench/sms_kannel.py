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
import time
from collections import Counter

from common import (
    bench_environment,
    bench_establishment,
    delivery_states,
    describe_database,
    django_setup,
    start_alert_workers,
    stop_processes,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    n = args.recipients

    bench_environment("sms")
    from tests.support.kannel import running_kannel

    # Delivery reports would go to a platform web server, which this bench does not
    # run: none is asked for (dlr_mask 0); the tests cover them.
    with running_kannel("http://127.0.0.1:9") as kannel:
        os.environ["PLANBLANC_CHANNELS"] = json.dumps({"sms": [kannel.provider(dlr_mask=0)]})
        django_setup()
        print(f"database: {describe_database()}")
        workers = start_alert_workers()

        from planblanc.actors import SystemActor
        from planblanc.alerting.services import RecipientInput, campaign_create

        establishment = bench_establishment(finess="69666666", name="CH du SMS")
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
        stop_processes(workers, timeout=10)
        # Whole messages: the parts of a concatenated SMS put back together.
        numbers = Counter({number: len(texts) for number, texts in kannel.messages().items()})
        parts = len(kannel.received())

    total = end - start
    print(f"recipients: {n}")
    print(f"send → last SMS printed by fakesmsc: {total:.2f} s ({n / total:,.0f} SMS/s)")
    print(f"  of which writing the campaign (outbox, one transaction): {created - start:.2f} s")
    print(f"numbers reached: {len(numbers)}; with other than exactly one SMS: {sum(1 for c in numbers.values() if c != 1)}")
    print(f"delivery states: {delivery_states(campaign)}")
    print(f"SMS parts printed by fakesmsc: {parts} (long messages go as concatenated parts)")


if __name__ == "__main__":
    main()
