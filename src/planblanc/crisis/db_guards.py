"""Database triggers that make the logbook append-only below the ORM, as for the audit
log (core/db_guards.py): an UPDATE or a DELETE of a logbook entry or attachment
fails, whoever sends it. The hash chain then detects what someone with the owner's
rights (who can drop the triggers) changed anyway."""

from __future__ import annotations

from typing import Any

from planblanc.core.db_guards import install_append_only, remove_append_only

GUARDED_TABLES = ("crisis_logbookentry", "crisis_logbookattachment")
MESSAGE = "logbook entries are append-only"


def install_logbook_guards(connection: Any) -> None:
    install_append_only(connection, GUARDED_TABLES, MESSAGE)


def remove_logbook_guards(connection: Any) -> None:
    remove_append_only(connection, GUARDED_TABLES)


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
