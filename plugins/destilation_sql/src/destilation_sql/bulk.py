"""Set-based statements over many rows: executemany on SQLite, one JSON parameter on PostgreSQL.

SQLite runs in process, so an executemany is the fastest form there. It runs on the sqlite3
cursor itself, inside the connection's transaction: SQLAlchemy's per-row parameter processing
cost about as much as SQLite's own work (a quarter of the store's CPU in a py-spy profile of
bench/bench_store.py).
Over a network executemany is slow: PostgreSQL gets a batch as one JSON array expanded by
``json_to_recordset``, so 500 rows are one statement with a fixed text (parsed and planned once)
instead of 500 round trips, a statement with thousands of placeholders, or per-column arrays
that psycopg escapes element by element in Python. (Measured: 4x faster commits than
executemany through psycopg.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Executable, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from destilation_sql.schema import dialect_insert

ROWS = "bulk_rows"
# Only values the codec already made JSON-safe arrive here, so NaN cannot occur.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Named placeholders, so the sqlite3 cursor takes the row dicts as they are.
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")

_TEXTS: dict[Hashable, str] = {}
"""SQLite statement texts by key: compiling one costs more than running it over a whole batch."""

Ref = Callable[[str], ColumnElement[Any]]
"""Maps a field name to what a statement uses for it: a bind parameter or a column of the JSON rows."""
Rows = Sequence[Mapping[str, Any]]


def source(conn: Connection, fields: Mapping[str, TypeEngine[Any]], rows: Rows) -> tuple[Ref, Any]:
    """A row source for `rows`: a `ref` for building the statement and the parameters to run it.

    SQLite: ``ref`` gives bind parameters and the rows are run as an executemany.
    PostgreSQL: ``ref`` gives columns of ``json_to_recordset(:rows) AS v(f1 type, …)`` and the
    parameter is the rows as one JSON text.
    """
    if conn.dialect.name != "postgresql":
        return bindparam, rows
    from sqlalchemy.dialects.postgresql import JSON  # imported on first use: SQLite runs never need it

    text = cast(bindparam(ROWS, type_=Text), JSON)
    derived = (
        func.json_to_recordset(text)
        .table_valued(*(column(name, kind) for name, kind in fields.items()))
        .render_derived(name="v", with_types=True)
    )
    columns = derived.c
    return (lambda name: columns[name]), {ROWS: _ENCODER.encode(list(rows))}


def execute_many(conn: Connection, build: Callable[[], Executable], params: Any, *, key: Hashable) -> None:
    """Run the statement `build` makes once per row on SQLite, once with the JSON rows on PostgreSQL.

    Every value must come from the rows (see `source`): write a constant as ``null()`` or a
    literal, not a Python value SQLAlchemy would turn into a hidden parameter. On SQLite the text
    compiled for `key` is reused and `build` is not called again, so a key names one statement.
    """
    if conn.dialect.name != "sqlite":
        conn.execute(build(), params)
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(_sqlite_text(key, build), params)
    finally:
        cursor.close()


def _sqlite_text(key: Hashable, build: Callable[[], Executable]) -> str:
    """The statement `key` names as SQLite text with named placeholders, which the row dicts fill."""
    text = _TEXTS.get(key)
    if text is None:
        text = _TEXTS[key] = str(build().compile(dialect=_SQLITE_NAMED))
    return text


def insert(
    conn: Connection,
    table: Table,
    rows: Rows,
    *,
    skip_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows` (dicts with the same keys); ON CONFLICT DO NOTHING when `skip_conflicts`.

    With `returning`, the result holds those columns of the rows that went in, in row order.
    """
    names = list(rows[0])

    def build(values: Any) -> Any:
        statement = dialect_insert(conn.dialect.name, table)
        statement = statement.values(values) if isinstance(values, dict) else statement.from_select(names, values)
        if skip_conflicts:
            statement = statement.on_conflict_do_nothing()
        if returning:
            statement = statement.returning(*(table.c[n] for n in returning))
        return statement

    if conn.dialect.name != "sqlite":
        ref, params = source(conn, {n: table.c[n].type for n in names}, rows)
        result = conn.execute(build(select(*(ref(n) for n in names))), params)
        return [tuple(r) for r in result] if returning else []
    key = ("insert", table.name, tuple(names), skip_conflicts, tuple(returning))
    sql = _sqlite_text(key, lambda: build({n: bindparam(n) for n in names}))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if not returning:
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()
        return []
    # executemany cannot return rows; one execute per row still skips SQLAlchemy's per-row work.
    out: list[tuple[Any, ...]] = []
    try:
        for row in rows:
            cursor.execute(sql, row)
            out.extend(cursor.fetchall())
    finally:
        cursor.close()
    return out
