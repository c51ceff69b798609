"""Two worker processes on one PostgreSQL database share a campaign (SKIP LOCKED) and
never send a message twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from planblanc.alerting.models import Delivery, DeliveryAttempt
from tests.alerting.campaign_script import create
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="several worker processes need a shared server database (DATABASE_URL=postgres://…)",
)
@pytest.mark.django_db(transaction=True)
def test_it_shares_a_campaign_between_two_workers_without_sending_twice(tmp_path, settings):
    s = connection.settings_dict
    url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    with SmtpServer() as smtp:
        settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
        create(600)
        env = {
            **os.environ, "DATABASE_URL": url, "PLANBLANC_DATA_DIR": str(tmp_path),
            "PLANBLANC_CHANNELS": json.dumps(settings.ALERTING_CHANNELS), "PLANBLANC_LOG_LEVEL": "WARNING",
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "planblanc", "alert_worker", "--until-done", "--batch", "10", "-v", "0"],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.wait(timeout=180)
            assert worker.returncode == 0, worker.stderr.read().decode()[-2000:] if worker.stderr else ""
        counts = smtp.recorder.count_by_rcpt()
    assert len(counts) == 600 and set(counts.values()) == {1}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    # Both took part, and each delivery was attempted by one of them only.
    assert DeliveryAttempt.objects.values("worker").distinct().count() == 2
    assert DeliveryAttempt.objects.count() == 600
