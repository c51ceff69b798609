"""A running exercise's injects fire on time while a big campaign is being sent: the
exercises' queue has a loop of its own in every `planblanc worker`."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from planblanc.alerting.models import Delivery, DeliveryStatus
from planblanc.exercises import run as run_services
from planblanc.exercises.models import InjectRun, InjectState
from tests.alerting.campaign_script import create
from tests.exercises.runkit import exercise_with_people
from tests.exercises.test_run import logbook_guards_allow_flush  # noqa: F401 (fixture)
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="a worker process needs a shared server database (DATABASE_URL=postgres://…)",
)
@pytest.mark.django_db(transaction=True)
def test_an_inject_fires_on_time_while_a_2000_recipient_campaign_goes_out(
    world: Any, settings: Any, tmp_path: Any, logbook_guards_allow_flush: Any,  # noqa: F811
) -> None:
    s = connection.settings_dict
    url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    setup = exercise_with_people(world)
    for inject in setup.exercise.injects.all():
        inject.dependencies.clear()
    with SmtpServer() as smtp:
        # 2,000 emails at a declared 100/s: the campaign's task keeps a worker busy for
        # 20 s or more.
        settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay", rate=100)]}
        create(2000)  # queues the delivery task
        env = {
            **os.environ, "DATABASE_URL": url, "PLANBLANC_DATA_DIR": str(tmp_path),
            "PLANBLANC_CHANNELS": json.dumps(settings.ALERTING_CHANNELS), "PLANBLANC_LOG_LEVEL": "WARNING",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "planblanc", "worker", "--interval", "0.2", "-v", "0"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while len(smtp.recorder.received) < 100 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(smtp.recorder.received) >= 100, "the campaign did not start"
            # The exercise starts now, its first inject due 4 s from now (×1).
            exercise = setup.exercise
            dues = [i.due_offset(exercise.planned_start) for i in exercise.injects.all() if not i.excluded]
            first_due = min(d.total_seconds() for d in dues if d is not None)
            due_at = timezone.now() + datetime.timedelta(seconds=4)
            run = run_services.run_start(
                actor=world.exercise_animator, exercise=setup.exercise, speed=1,
                now=due_at - datetime.timedelta(seconds=first_due),
            )
            row = InjectRun.objects.filter(run=run, due_seconds=first_due).order_by("pk").first()
            assert row is not None
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                row.refresh_from_db()
                if row.state != InjectState.PENDING:
                    break
                time.sleep(0.1)
            still_sending = Delivery.objects.filter(
                status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
            ).count()
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    assert row.state == InjectState.SENT and row.fired_at is not None, (
        worker.stderr.read().decode()[-2000:] if worker.stderr else ""
    )
    late = (row.fired_at - due_at).total_seconds()
    # On time (the worker polls its exercises' loop every 0.2 s; a loaded machine
    # allowed for), while the campaign was still going out.
    assert late <= 3.0, late
    assert still_sending > 0
