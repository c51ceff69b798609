"""Append-only tables below the ORM: database triggers that make any UPDATE or DELETE
of a guarded table's rows fail, whoever sends it (the application, a shell, a script),
and on PostgreSQL any TRUNCATE too, even by the table's owner (TRUNCATE fires no row
trigger, so it has a statement trigger of its own). Used by the audit log (accounts)
and the crisis logbook (crisis).

Dropping or disabling the triggers needs the table owner's rights: run the application
under a role that does not own the tables (see README, "Least privilege in the
database"), so that a compromised application server cannot lift them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _statements(vendor: str, tables: Sequence[str], message: str) -> tuple[list[str], list[str]]:
    create: list[str] = []
    drop: list[str] = []
    for table in tables:
        if vendor == "sqlite":
            for action in ("update", "delete"):
                create.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action} BEFORE {action.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END;"
                )
                drop.append(f"DROP TRIGGER IF EXISTS {table}_no_{action};")
        elif vendor == "postgresql":
            create += [
                f"""CREATE OR REPLACE FUNCTION {table}_refuse() RETURNS trigger AS $$
                    BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql;""",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                    FOR EACH ROW EXECUTE FUNCTION {table}_refuse();""",
                *truncate_guard_statements(table),
            ]
            drop.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            drop.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};")
    return create, drop


def truncate_guard_statements(table: str) -> list[str]:
    """PostgreSQL: refuse TRUNCATE of `table` (uses the table's refuse function)."""
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse();""",
    ]


def install_append_only(connection: Any, tables: Sequence[str], message: str) -> None:
    create, _drop = _statements(connection.vendor, tables, message)
    with connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)


def remove_append_only(connection: Any, tables: Sequence[str]) -> None:
    _create, drop = _statements(connection.vendor, tables, "")
    with connection.cursor() as cursor:
        for statement in drop:
            cursor.execute(statement)
