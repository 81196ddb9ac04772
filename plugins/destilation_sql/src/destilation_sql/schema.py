"""Tables, the schema version, and creating or checking the schema on open.

The schema is versioned and never migrated silently: a database of another version is refused
with a message that says what to do. Within a version the schema only grows: a table or a
column with a default that an older release did not create is added on open (`_grow`); older
releases read and write such a database as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    any_,
    bindparam,
    func,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.elements import ColumnElement

from destilation import StoreError, StoreMissing

SCHEMA_VERSION = 1

# SQLite needs INTEGER PRIMARY KEY for an autoincrementing rowid; PostgreSQL gets 64 bits.
Id = BigInteger().with_variant(Integer, "sqlite")

PG_LOCK_CLASS = 0x64657374
"""First key of our PostgreSQL advisory locks (``'dest'``), so they do not meet other apps'."""

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("name", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("target", BigInteger, nullable=False),
    Column("planned", BigInteger, nullable=False, default=0),
    Column("spec", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("message", Text),
)

tasks = Table(
    "tasks",
    metadata,
    Column("job", Text, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("axes", Text, nullable=False),
    Column("row", Text),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", Text),
    Column("lease_expires", Double),
    Column("reasons", Text),
    # Claims scan pending (or running) tasks of one job in index order.
    Index("tasks_job_state_idx", "job", "state", "idx"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", Text, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("number", Integer, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("latency_s", Double, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("cost", Double),
    Column("finish_reason", Text),
    Column("issues", Text),
    Column("error", Text),
    Column("created_at", Double, nullable=False),
    # Added after version 1 shipped (see `_grow`): prompt, raw answer and feedback as JSON, or NULL.
    Column("payload", Text),
    Index("attempts_job_idx", "job", "idx"),
)

samples = Table(
    "samples",
    metadata,
    # Commit order: exporters read samples by ascending seq.
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("job", Text, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("template_id", Text, nullable=False),
    Column("template_version", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("usage", Text, nullable=False),
    Column("cost", Double),
    Column("scores", Text),
    Column("reasoning", Text),
    Column("tool_calls", Text),
    Column("created_at", Double, nullable=False),
    # Added after version 1 shipped (see `_grow`): mode, latency, input and prompt as JSON, or NULL.
    Column("lineage", Text),
    UniqueConstraint("job", "content_hash", name="samples_job_hash"),
    UniqueConstraint("job", "idx", name="samples_job_idx"),
    Index("samples_job_seq", "job", "seq"),
)

sink_cursors = Table(
    "sink_cursors",
    metadata,
    Column("job", Text, primary_key=True),
    Column("sink", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    # Added after version 1 shipped; `ensure` adds it to older databases (see `_grow`).
    Column("digest", Text, nullable=False, server_default=""),
)

roles = Table(
    "roles",
    metadata,
    # Leases that make one process the exporter (or planner) of a job; see destilation_sql.roles.
    Column("job", Text, primary_key=True),
    Column("role", Text, primary_key=True),
    Column("owner", Text),
    Column("fence", BigInteger, nullable=False),
    Column("expires", Double, nullable=False),
)

members = Table(
    "members",
    metadata,
    # The processes working a job, each beating about once a second; see destilation_sql.members.
    Column("job", Text, primary_key=True),
    Column("owner", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("started_at", Double, nullable=False),
    Column("heartbeat_at", Double, nullable=False),
    Column("in_flight", Integer, nullable=False),
    Column("rate", Double, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("provider", Text),
    Column("task_index", BigInteger),
    Column("message", Text, nullable=False),
    Column("data", Text),
    Column("at", Double, nullable=False),
    Index("events_job_id", "job", "id"),
    # `destiler logs --level/--provider` read one job's events of some severities or one provider.
    Index("events_job_severity_id", "job", "severity", "id"),
    Index("events_job_provider_id", "job", "provider", "id"),
)

provider_stats = Table(
    "provider_stats",
    metadata,
    Column("job", Text, primary_key=True),
    Column("provider", Text, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("failures", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("latency_s", Double, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("cost", Double, nullable=False),
    Column("last_error", Text),
    Column("updated_at", Double, nullable=False),
)


provider_health = Table(
    "provider_health",
    metadata,
    # One row per process (`owner`) and provider of a job, replaced about once a second by that
    # process's call policy; readers add the owners up (destilation.health.merge_health).
    Column("job", Text, primary_key=True),
    Column("provider", Text, primary_key=True),
    Column("owner", Text, primary_key=True),
    Column("model", Text, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("successes", BigInteger, nullable=False),
    Column("retries", BigInteger, nullable=False),
    Column("failovers", BigInteger, nullable=False),
    Column("errors", Text, nullable=False),
    Column("latency_p50_s", Double),
    Column("latency_p95_s", Double),
    Column("concurrency_limit", Integer, nullable=False),
    Column("in_flight", Integer, nullable=False),
    Column("circuit", Text, nullable=False),
    Column("held_until", Double),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cost", Double, nullable=False),
    Column("last_error", Text),
    Column("details", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)


def among(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN <list parameter name>``; pass the list through `listed`.

    One parameter whatever the list's length: an array on PostgreSQL, a JSON array read by
    ``json_each`` on SQLite. The statement text stays the same, so it is compiled (and planned
    by PostgreSQL, prepared by sqlite3) once instead of once per list length.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # on first use: SQLite runs never load it

        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name, type_=Text))))


def listed(values: Sequence[Any], dialect: str) -> Any:
    """The parameter value `among` expects for `values` on `dialect`."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def dialect_insert(dialect: str, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT for the store's dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table)
    return sqlite.insert(table)


def ensure(conn: Connection, shown: str, *, create: bool = True) -> None:
    """Create the schema in an empty database, or check the version of an existing one.

    Runs inside a write transaction; on PostgreSQL an advisory lock keeps two processes that
    open the same empty database at once from both creating it. With ``create=False`` (a read
    transaction) an empty database raises StoreMissing instead.
    """
    if conn.dialect.name == "postgresql" and create:
        conn.execute(text("SELECT pg_advisory_xact_lock(:a, 0)"), {"a": PG_LOCK_CLASS})
    present = set(inspect(conn).get_table_names())
    if meta.name not in present:
        ours = sorted(present & set(metadata.tables))
        if ours:
            raise StoreError(
                f"{shown} has tables {', '.join(ours)} but no destilation schema version; "
                "it was not made by destilation-sql: point the store at another database"
            )
        if not create:
            raise StoreMissing(f"{shown} holds no destilation store yet (`destiler run JOB.toml` creates it)")
        metadata.create_all(conn)
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        return
    found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if found != str(SCHEMA_VERSION):
        raise StoreError(
            f"{shown} has schema version {found or 'none'}; this destilation-sql uses {SCHEMA_VERSION}: "
            "install the destilation-sql release that wrote it, or point the store at a new database "
            "(the schema is never migrated silently)"
        )
    _grow(conn, present)


def _grow(conn: Connection, present: set[str]) -> None:
    """Add what this release has beyond the first tables of version 1.

    The roles, provider health and members tables, the cursor digest, the event indexes of
    `destiler logs`, the attempt payloads and the sample lineage.
    """
    for table in (roles, provider_health, members):
        if table.name not in present:
            table.create(conn)
    indexed = {index["name"] for index in inspect(conn).get_indexes(events.name)}
    for index in sorted(events.indexes, key=lambda i: str(i.name)):
        if index.name not in indexed:
            index.create(conn)
    if "digest" not in {column["name"] for column in inspect(conn).get_columns(sink_cursors.name)}:
        conn.exec_driver_sql("ALTER TABLE sink_cursors ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
    for table, column in ((attempts, "payload"), (samples, "lineage")):
        if column not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column} TEXT")
