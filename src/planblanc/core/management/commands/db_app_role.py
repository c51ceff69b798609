"""`planblanc db_app_role ROLE`: give the application's PostgreSQL role what it needs,
and no more. Run it as the role that migrates and owns the tables, after every
`planblanc migrate` (new tables need their grants).

The application's role may read and write every table, except the append-only ones
(the audit log, the crisis logbook and its attachments, the logbook's timestamp
tokens), where it may only read and add rows: no UPDATE, DELETE or TRUNCATE, and,
not owning them, it cannot drop or disable their triggers either.

    --print   show the SQL instead of running it"""

from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand, CommandError
from django.db import connection

from planblanc.accounts.db_guards import GUARDED_TABLES as AUDIT_TABLES
from planblanc.crisis.db_guards import GUARDED_TABLES as LOGBOOK_TABLES

APPEND_ONLY = (*AUDIT_TABLES, *LOGBOOK_TABLES, "crisis_logbooktimestamp")


def grants(role: str, tables: list[str]) -> list[str]:
    quoted = connection.ops.quote_name(role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
    ]
    for table in sorted(tables):
        name = connection.ops.quote_name(table)
        if table in APPEND_ONLY:
            statements.append(f"REVOKE ALL ON {name} FROM {quoted}")
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {quoted}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {quoted}")
    return statements


class Command(BaseCommand):
    help = "Grant the application's PostgreSQL role its rights (append-only tables: read and add only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("role")
        parser.add_argument("--print", action="store_true", help="print the SQL, do not run it")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles apply to PostgreSQL only.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [options["role"]])
            if cursor.fetchone() is None and not options["print"]:
                raise CommandError(f"No PostgreSQL role {options['role']!r}: create it first (CREATE ROLE … LOGIN).")
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [row[0] for row in cursor.fetchall()]
            statements = grants(options["role"], tables)
            if options["print"]:
                self.stdout.write(";\n".join(statements) + ";")
                return
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(f"Granted {options['role']} its rights on {len(tables)} tables.")
