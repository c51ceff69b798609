"""The audit log is append-only below the ORM (see core/db_guards.py): an UPDATE or a
DELETE of a row of accounts_auditentry fails, whoever sends it."""

from __future__ import annotations

from typing import Any

from planblanc.core.db_guards import install_append_only, remove_append_only

GUARDED_TABLES = ("accounts_auditentry",)
MESSAGE = "audit entries are append-only"


def install_audit_guards(connection: Any) -> None:
    install_append_only(connection, GUARDED_TABLES, MESSAGE)


def remove_audit_guards(connection: Any) -> None:
    remove_append_only(connection, GUARDED_TABLES)


def purge_audit_for_tests(connection: Any) -> None:
    """Empty the audit log, guards lifted for that statement only (test databases)."""
    remove_audit_guards(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_auditentry")
    finally:
        install_audit_guards(connection)
