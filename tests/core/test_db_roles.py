"""Least privilege in PostgreSQL: the role that migrates owns the tables; the
application's role (granted by `planblanc db_app_role`) runs the platform but cannot
UPDATE, DELETE or TRUNCATE the audit log or the logbook. And the TRUNCATE trigger stops
even the owner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from tests.crisis.conftest import logbook_guards_allow_flush  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
APP_ROLE = "planblanc_app_test"

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="database roles need PostgreSQL (run with DATABASE_URL=postgres://…)",
    ),
    pytest.mark.django_db(transaction=True),
]


def _url(user: str) -> str:
    s = connection.settings_dict
    return f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def app_role():
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {APP_ROLE}" if _exists() else "SELECT 1")
        cursor.execute(f"DROP ROLE IF EXISTS {APP_ROLE}")
        cursor.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
    call_command("db_app_role", APP_ROLE)
    yield APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {APP_ROLE}")
        cursor.execute(f"DROP ROLE IF EXISTS {APP_ROLE}")


def _exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE])
        return cursor.fetchone() is not None


@pytest.mark.usefixtures("logbook_guards_allow_flush")
def test_it_runs_the_platform_as_the_application_role_which_cannot_rewrite_history(app_role, tmp_path):
    env = {**os.environ, "DATABASE_URL": _url(app_role), "PLANBLANC_DATA_DIR": str(tmp_path)}
    # A crisis declared, 100 logbook entries, a campaign, all audited: as the application.
    done = subprocess.run([sys.executable, "-m", "tests.core.backup_script", "populate"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with psycopg.connect(_url(app_role), autocommit=True) as app:
        assert app.execute("SELECT COUNT(*) FROM crisis_logbookentry").fetchone()[0] > 100
        assert app.execute("SELECT COUNT(*) FROM accounts_auditentry").fetchone()[0] > 100
        # Ordinary tables stay writable.
        app.execute("UPDATE directory_person SET job_title = job_title")
        for statement in (
            "UPDATE accounts_auditentry SET action = 'x'",
            "DELETE FROM accounts_auditentry",
            "TRUNCATE accounts_auditentry CASCADE",
            "UPDATE crisis_logbookentry SET text = 'réécrit'",
            "DELETE FROM crisis_logbookentry",
            "TRUNCATE crisis_logbookentry CASCADE",
            "ALTER TABLE crisis_logbookentry DISABLE TRIGGER ALL",
            "DROP TRIGGER crisis_logbookentry_append_only ON crisis_logbookentry",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
    # The owner itself is stopped by the triggers, TRUNCATE included.
    owner = connection.settings_dict["USER"] or "postgres"
    with psycopg.connect(_url(owner), autocommit=True) as db:
        for table in ("accounts_auditentry", "crisis_logbookentry"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                db.execute(f"TRUNCATE {table} CASCADE")
        assert db.execute("SELECT COUNT(*) FROM crisis_logbookentry").fetchone()[0] > 100
