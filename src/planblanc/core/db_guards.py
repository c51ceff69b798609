"""Append-only tables below the ORM: database triggers that make any UPDATE or DELETE
of a guarded table's rows fail, whoever sends it (the application, a shell, a script).
Used by the audit log (accounts) and the crisis logbook (crisis). Dropping the triggers
or truncating needs the table owner's rights: keep the application's database role
apart from the owner where the tables must resist a compromised application server."""

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
            ]
            drop.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    return create, drop


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
