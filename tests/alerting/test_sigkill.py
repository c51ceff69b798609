"""Nothing lost, nothing twice: the worker is killed (SIGKILL) in the middle of a
2,000-recipient email campaign to a real SMTP server, restarted, and every recipient
has exactly one message. In the first test another worker already runs, as deployed:
every recipient is reached within 15 seconds of the kill although the rows' lease is
60 seconds, because the killed worker's heartbeat stops and its claims are taken over
a few seconds later.

SMTP has one window that no client can close: the relay has taken the message (its
250 is on the way) and the worker dies before committing "sent". The engine keeps it
to a single UPDATE right after the 250 and gives the re-sent message the same
Message-ID. The first test kills the worker mid-conversation (waiting for the relay's
answer, where a worker spends most of its time): exactly one message each. The second
aims at the window itself: the one message caught there arrives twice, with the same
Message-ID, and everyone else exactly once.

On SQLite the database is a file under a temporary PLANBLANC_DATA_DIR (pytest's own
SQLite database lives in memory, out of reach of other processes); on PostgreSQL
(DATABASE_URL set) the worker processes share the test database."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from tests.support.smtp import Recorder, SmtpServer

RECIPIENTS = 2000
KILL_AFTER = 700
ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, smtp: SmtpServer, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "PLANBLANC_DATA_DIR": str(tmp_path),
        "PLANBLANC_CHANNELS": json.dumps({"email": [smtp.provider("relay", batch_size=100)]}),
        # The default lease (60 s): the rows of the killed worker must go on long before
        # it ends, because its heartbeat stopped.
        "PLANBLANC_ALERT_LEASE_SECONDS": "60",
        "PLANBLANC_ALERT_DEAD_WORKER_SECONDS": "8",
        "PLANBLANC_ALERT_RETRY_BASE_SECONDS": "0",
        "PLANBLANC_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "planblanc", "alert_worker", "--until-done", "--interval", "0.2", "-v", "0"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


class Killer:
    """Kills the current worker process from inside the SMTP conversation."""

    def __init__(self) -> None:
        self.worker: subprocess.Popen[bytes] | None = None
        self.killed_at: int | None = None
        self.killed_time: float | None = None
        self.lock = threading.Lock()

    def kill(self, count: int) -> bool:
        with self.lock:
            if self.killed_at is not None or self.worker is None or count < KILL_AFTER:
                return False
            os.kill(self.worker.pid, signal.SIGKILL)
            self.killed_time = time.monotonic()
            self.killed_at = count
            return True

    async def while_waiting_for_rcpt_answer(self, count: int) -> None:
        if self.kill(count):
            # Answer only once the worker is gone: it dies waiting for the relay.
            while self.worker is not None and self.worker.poll() is None:
                await asyncio.sleep(0.01)

    def inside_the_window(self, count: int) -> None:
        # The message is recorded; the 250 has not gone back yet.
        self.kill(count)


def _kill_and_resume(smtp: SmtpServer, killer: Killer, env: dict[str, str], *, concurrent: bool) -> None:
    killer.worker = _worker(env)
    # `concurrent`: another worker already runs, as deployed, so the recovery time counts
    # the takeover, not the start of a new process. Otherwise it starts after the kill
    # (the message caught in the SMTP window must be the killed worker's).
    second = _worker(env) if concurrent else None
    killer.worker.wait(timeout=180)
    stderr = killer.worker.stderr.read().decode()[-2000:] if killer.worker.stderr else ""
    assert killer.worker.returncode == -signal.SIGKILL, (killer.worker.returncode, stderr)
    assert killer.killed_at is not None and len(smtp.recorder.received) < RECIPIENTS
    second = second or _worker(env)
    second.wait(timeout=180)
    assert second.returncode == 0, second.stderr.read().decode()[-3000:] if second.stderr else ""


def _ids_by_rcpt(smtp: SmtpServer) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for message in smtp.recorder.received:
        ids.setdefault(message.rcpt, set()).add(message.message_id)
    return ids


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _campaign_and_kill(
    tmp_path: Path, smtp: SmtpServer, killer: Killer, backend: str, template: Path, *, concurrent: bool = False,
) -> list[tuple[str, int]]:
    """Create the campaign, run the worker, kill it, resume; the delivery states."""
    if backend == "sqlite":
        env = _env(tmp_path, smtp, None)
        shutil.copy(template, tmp_path / "planblanc.sqlite3")
        _run(["-m", "tests.alerting.campaign_script", str(RECIPIENTS)], env)
        _kill_and_resume(smtp, killer, env, concurrent=concurrent)
        db = sqlite3.connect(tmp_path / "planblanc.sqlite3")
        statuses = db.execute("SELECT status, COUNT(*) FROM alerting_delivery GROUP BY status").fetchall()
        assert db.execute("SELECT COUNT(*) FROM alerting_deliveryattempt WHERE after_lost_lease").fetchone()[0] > 0
        assert db.execute("SELECT COUNT(DISTINCT worker) FROM alerting_deliveryattempt").fetchone()[0] == 2
        assert db.execute("SELECT status FROM alerting_campaign").fetchone()[0] == "done"
        return statuses
    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL=postgres://… for the PostgreSQL variant")
    from django.conf import settings
    from django.db.models import Count

    from planblanc.alerting.models import Campaign, Delivery, DeliveryAttempt
    from tests.alerting.campaign_script import create

    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay", batch_size=100)]}
    create(RECIPIENTS)
    _kill_and_resume(smtp, killer, _env(tmp_path, smtp, _database_url()), concurrent=concurrent)
    assert DeliveryAttempt.objects.filter(after_lost_lease=True).exists()
    assert DeliveryAttempt.objects.values("worker").distinct().count() == 2
    assert Campaign.objects.get().status == "done"
    return list(Delivery.objects.values_list("status").annotate(n=Count("id")))


def _template(request: pytest.FixtureRequest, backend: str) -> Path:
    return request.getfixturevalue("migrated_sqlite") if backend == "sqlite" else Path()


BACKENDS = [
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.own_sqlite),
    pytest.param("postgresql", id="postgresql", marks=[
        pytest.mark.skipif(
            not os.environ.get("DATABASE_URL", "").startswith("postgres"),
            reason="run with DATABASE_URL=postgres://… for the PostgreSQL variant",
        ),
        pytest.mark.django_db(transaction=True),
    ]),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_it_sends_exactly_once_when_the_worker_is_killed_mid_campaign(tmp_path, backend, request):
    killer = Killer()
    with SmtpServer(Recorder(on_rcpt=killer.while_waiting_for_rcpt_answer)) as smtp:
        # One worker at a time: with a second one already running, its own RCPT could
        # trigger the kill while the first is inside its SMTP window (a legitimate repeat
        # that this test does not look for). The 15 s below then also counts the start
        # of the new process.
        statuses = _campaign_and_kill(tmp_path, smtp, killer, backend, _template(request, backend))
        counts = smtp.recorder.count_by_rcpt()
    assert killer.killed_at == KILL_AFTER
    assert len(counts) == RECIPIENTS
    assert {rcpt: n for rcpt, n in counts.items() if n != 1} == {}
    assert len(smtp.recorder.received) == RECIPIENTS
    assert dict(statuses) == {"sent": RECIPIENTS}
    assert killer.killed_time is not None
    assert smtp.recorder.last_received_at - killer.killed_time < 15


@pytest.mark.parametrize("backend", BACKENDS)
def test_it_resends_with_the_same_message_id_when_killed_inside_the_smtp_window(tmp_path, backend, request):
    killer = Killer()
    with SmtpServer(Recorder(on_message=killer.inside_the_window)) as smtp:
        statuses = _campaign_and_kill(tmp_path, smtp, killer, backend, _template(request, backend))
        counts = smtp.recorder.count_by_rcpt()
        ids = _ids_by_rcpt(smtp)
    assert len(counts) == RECIPIENTS
    # Only the message caught in the window came twice, and as the same message.
    assert Counter(counts.values()) == {1: RECIPIENTS - 1, 2: 1}
    assert all(len(message_ids) == 1 for message_ids in ids.values())
    assert dict(statuses) == {"sent": RECIPIENTS}
