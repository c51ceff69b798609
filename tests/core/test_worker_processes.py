"""Several worker processes on one PostgreSQL database share the queue without running
a task twice. (SQLite's test database lives in memory, out of reach of other processes.)"""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from planblanc.core.tasks import ping


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_it_shares_the_queue_between_two_worker_processes(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("several worker processes need a shared server database (run with DATABASE_URL=postgres://…)")
    for n in range(60):
        ping.enqueue(f"t{n}")
    env = {**os.environ, "DATABASE_URL": _database_url(), "PLANBLANC_DATA_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "planblanc", "worker", "--batch", "--interval", "0.1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    for worker in workers:
        worker.wait(timeout=max(1, deadline - time.monotonic()))
        assert worker.returncode == 0, worker.stderr.read().decode()[-2000:]

    results = list(DBTaskResult.objects.all())
    assert len(results) == 60
    assert {r.status for r in results} == {"SUCCESSFUL"}
    assert sorted(r.return_value for r in results) == sorted(f"t{n}" for n in range(60))
    # Each task was claimed by exactly one worker.
    assert all(len(r.worker_ids) == 1 for r in results)
