"""Database triggers that make the logbook append-only below the ORM, as for the audit
log (accounts/db_guards.py): an UPDATE or a DELETE of a logbook entry or attachment
fails, whoever sends it. The hash chain then detects what someone with the owner's
rights (who can drop the triggers) changed anyway."""

from __future__ import annotations

from typing import Any

GUARDED_TABLES = ("crisis_logbookentry", "crisis_logbookattachment")
MESSAGE = "logbook entries are append-only"


def _sql(vendor: str) -> tuple[list[str], list[str]]:
    create: list[str] = []
    drop: list[str] = []
    for table in GUARDED_TABLES:
        if vendor == "sqlite":
            for action in ("update", "delete"):
                create.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action} BEFORE {action.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
                )
                drop.append(f"DROP TRIGGER IF EXISTS {table}_no_{action};")
        elif vendor == "postgresql":
            create += [
                f"""CREATE OR REPLACE FUNCTION {table}_refuse() RETURNS trigger AS $$
                    BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql;""",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
                f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                    FOR EACH ROW EXECUTE FUNCTION {table}_refuse();""",
            ]
            drop.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    return create, drop


def install_logbook_guards(connection: Any) -> None:
    create, _drop = _sql(connection.vendor)
    with connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)


def remove_logbook_guards(connection: Any) -> None:
    _create, drop = _sql(connection.vendor)
    with connection.cursor() as cursor:
        for statement in drop:
            cursor.execute(statement)


def purge_logbook_for_tests(connection: Any) -> None:
    """Empty every table of the crisis app, guards lifted meanwhile (test databases only).
    Tables are emptied in whatever order their foreign keys allow."""
    from django.apps import apps
    from django.db import DatabaseError, transaction

    remove_logbook_guards(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE crisis_logbookentry SET corrects_id = NULL")
        remaining = [model._meta.db_table for model in apps.get_app_config("crisis").get_models()]
        for _attempt in range(len(remaining) + 1):
            for table in list(remaining):
                try:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (our own table names)
                    remaining.remove(table)
                except DatabaseError:
                    continue  # still referenced by a table not emptied yet
            if not remaining:
                break
    finally:
        install_logbook_guards(connection)
