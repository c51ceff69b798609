"""Database triggers that make the audit log append-only below the ORM: an UPDATE or a
DELETE of a row of accounts_auditentry fails, whoever sends it. (Dropping or truncating
the table needs the table owner's rights: keep the application's database role apart
from the owner where the audit log must resist a compromised application server.)"""

from __future__ import annotations

from typing import Any

SQL = {
    "sqlite": (
        [
            """CREATE TRIGGER IF NOT EXISTS accounts_auditentry_no_update BEFORE UPDATE ON accounts_auditentry
               BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;""",
            """CREATE TRIGGER IF NOT EXISTS accounts_auditentry_no_delete BEFORE DELETE ON accounts_auditentry
               BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;""",
        ],
        [
            "DROP TRIGGER IF EXISTS accounts_auditentry_no_update;",
            "DROP TRIGGER IF EXISTS accounts_auditentry_no_delete;",
        ],
    ),
    "postgresql": (
        [
            """CREATE OR REPLACE FUNCTION accounts_auditentry_refuse() RETURNS trigger AS $$
               BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql;""",
            "DROP TRIGGER IF EXISTS accounts_auditentry_append_only ON accounts_auditentry;",
            """CREATE TRIGGER accounts_auditentry_append_only BEFORE UPDATE OR DELETE ON accounts_auditentry
               FOR EACH ROW EXECUTE FUNCTION accounts_auditentry_refuse();""",
        ],
        [
            "DROP TRIGGER IF EXISTS accounts_auditentry_append_only ON accounts_auditentry;",
        ],
    ),
}


def install_audit_guards(connection: Any) -> None:
    create, _drop = SQL.get(connection.vendor, ([], []))
    with connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)


def remove_audit_guards(connection: Any) -> None:
    _create, drop = SQL.get(connection.vendor, ([], []))
    with connection.cursor() as cursor:
        for statement in drop:
            cursor.execute(statement)


def purge_audit_for_tests(connection: Any) -> None:
    """Empty the audit log, guards lifted for that statement only (test databases)."""
    remove_audit_guards(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_auditentry")
    finally:
        install_audit_guards(connection)
