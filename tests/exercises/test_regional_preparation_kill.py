"""The worker preparing a regional exercise is killed (SIGKILL) after some establishments:
every establishment is either fully prepared (its exercise with the whole scenario) or
untouched, never half; a worker started afterwards prepares the rest, and each
establishment ends with exactly one exercise.

On SQLite the database is a file under a temporary PLANBLANC_DATA_DIR (pytest's own
SQLite database lives in memory, out of reach of other processes); on PostgreSQL
(DATABASE_URL set) the worker processes share the test database."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

ESTABLISHMENTS = 200
KILL_AFTER = 10
ROOT = Path(__file__).resolve().parents[2]

# Per establishment of the regional exercise: its exercise (or none) and the number of
# injects that exercise holds; and exercises of the region not linked to any member.
STATE = """
SELECT m.establishment_id, m.exercise_id, m.error,
       (SELECT COUNT(*) FROM exercises_inject i WHERE i.exercise_id = m.exercise_id)
FROM exercises_regionalmember m WHERE m.regional_id = %s ORDER BY m.establishment_id
"""
ORPHANS = """
SELECT COUNT(*) FROM exercises_exercise e
WHERE e.establishment_id IN (SELECT establishment_id FROM exercises_regionalmember WHERE regional_id = %s)
AND e.id NOT IN (SELECT exercise_id FROM exercises_regionalmember WHERE exercise_id IS NOT NULL)
"""


def _env(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "PLANBLANC_DATA_DIR": str(tmp_path), "PLANBLANC_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "planblanc", "worker", "--batch", "--queue-name", "default", "-v", "0"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_and_resume(env: dict[str, str], query: Callable[[str, int], list[tuple]], pk: int) -> None:
    worker = _worker(env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # until k establishments are prepared, then SIGKILL
        prepared = sum(1 for row in query(STATE, pk) if row[1] is not None)
        if prepared >= KILL_AFTER or worker.poll() is not None:
            break
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL, worker.stderr.read().decode()[-2000:] if worker.stderr else ""
    rows = query(STATE, pk)
    prepared = [row for row in rows if row[1] is not None]
    assert KILL_AFTER <= len(prepared) < ESTABLISHMENTS, len(prepared)
    injects = {row[3] for row in prepared}
    # Nothing half done: each prepared establishment has the whole scenario, the others nothing.
    assert len(injects) == 1 and injects.pop() > 0
    assert query(ORPHANS, pk) == [(0,)]
    assert all(row[2] == "" for row in rows)
    # A worker started afterwards queues the unfinished preparation and finishes it.
    resumed = _worker(env)
    resumed.wait(timeout=300)
    assert resumed.returncode == 0, resumed.stderr.read().decode()[-3000:] if resumed.stderr else ""


def _check_done(query: Callable[[str, int], list[tuple]], pk: int) -> None:
    rows = query(STATE, pk)
    assert len(rows) == ESTABLISHMENTS
    assert all(row[1] is not None and row[2] == "" for row in rows)
    assert len({row[3] for row in rows}) == 1
    assert query(ORPHANS, pk) == [(0,)]
    status = query("SELECT status FROM exercises_regionalexercise WHERE id = %s", pk)
    assert status == [("prepared",)]


def test_it_prepares_each_establishment_once_when_the_worker_is_killed_sqlite(
    tmp_path: Path, migrated_sqlite: Path,
) -> None:
    env = _env(tmp_path, None)
    shutil.copy(migrated_sqlite, tmp_path / "planblanc.sqlite3")
    pk = int(_run(["-m", "tests.exercises.regional_prepare_script", str(ESTABLISHMENTS)], env).strip())

    def query(sql: str, regional_id: int) -> list[tuple]:
        db = sqlite3.connect(tmp_path / "planblanc.sqlite3", timeout=30)
        try:
            return db.execute(sql.replace("%s", "?"), (regional_id,)).fetchall()
        finally:
            db.close()

    _kill_and_resume(env, query, pk)
    _check_done(query, pk)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="run with DATABASE_URL=postgres://… for the PostgreSQL variant")
@pytest.mark.django_db(transaction=True)
def test_it_prepares_each_establishment_once_when_the_worker_is_killed_postgresql(tmp_path: Path) -> None:
    from tests.exercises.regional_prepare_script import create

    pk = create(ESTABLISHMENTS)
    s = connection.settings_dict
    url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"

    def query(sql: str, regional_id: int) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [regional_id])
            return [tuple(row) for row in cursor.fetchall()]

    _kill_and_resume(_env(tmp_path, url), query, pk)
    _check_done(query, pk)
