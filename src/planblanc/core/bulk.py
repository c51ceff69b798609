"""Writing many rows at once: a national campaign writes millions of them.

The ORM's `bulk_create` prepares each value of each row one at a time (about 80 µs a row
of 20 fields), then PostgreSQL parses one INSERT per 500 rows. On PostgreSQL these
helpers reserve the primary keys from the table's sequence in one query and stream the
rows with COPY; elsewhere (SQLite) they fall back to `executemany` in batches. Values are
given ready for the database: JSON as text (`json_text`), datetimes aware, None for NULL.
Both run inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

BATCH = 1000


def json_text(value: Any) -> str:
    """A JSON column's value as the text both COPY and executemany take."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ids_reserve(model: type[models.Model], count: int) -> list[int] | None:
    """`count` fresh primary keys of `model` from its sequence (PostgreSQL), or None where
    the database has no sequence to draw from (the caller inserts without ids)."""
    if connection.vendor != "postgresql" or count <= 0:
        return None if connection.vendor != "postgresql" else []
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(table), pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def rows_write(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert `rows` (tuples in the order of `columns`, database column names) into the
    model's table; returns the number written. COPY on PostgreSQL, executemany elsewhere.

    On PostgreSQL the foreign keys of these rows are checked at the end of the COPY
    rather than at commit: Django declares them deferred, and a transaction writing
    millions of rows would otherwise hold one pending check per row and key in memory
    until it commits. The parents must therefore exist already (they always do here)."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # The raw COPY raises psycopg's errors: the wrapper gives Django's (IntegrityError…).
            with connection.wrap_database_errors, cursor.cursor.copy(  # type: ignore[attr-defined]
                    f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            # Back to Django's default for the rest of the caller's transaction.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return count
        # SQLite stores datetimes as the backend's text: adapt those columns as the ORM would.
        by_column = {field.column: field for field in model._meta.concrete_fields}
        dated = [i for i, column in enumerate(columns) if isinstance(by_column.get(column), models.DateTimeField)]
        adapt = connection.ops.adapt_datetimefield_value
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608 - our own table and columns
        batch: list[Sequence[Any]] = []
        for row in rows:
            if dated:
                row = list(row)
                for i in dated:
                    row[i] = adapt(row[i])
            batch.append(row)
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                count, batch = count + len(batch), []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count
