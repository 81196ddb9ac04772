"""Engines: SQLite tuned for one writer that survives kill -9, PostgreSQL through psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from destilation import StoreError
from destilation_sql.urls import StoreUrl

WRITE = "destilation_write"
"""Execution option: the transaction will write, so SQLite takes the write lock at BEGIN."""

BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10


def make_engine(target: StoreUrl) -> Engine:
    """Create the engine (no connection yet); a missing directory is created first."""
    if target.dialect == "sqlite":
        return _sqlite_engine(target)
    return _postgresql_engine(target)


def _postgresql_engine(target: StoreUrl) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in target.url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        return create_engine(target.url, connect_args=connect_args, pool_size=2, pool_pre_ping=True)
    except ImportError as exc:
        raise StoreError(
            f"{target.shown}: the PostgreSQL driver is missing ({exc}); install destilation-sql[postgresql]"
        ) from None


def _sqlite_engine(target: StoreUrl) -> Engine:
    if target.path is None:
        # One shared connection: every worker thread must see the same in-memory database.
        engine = create_engine(target.url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{target.shown}: cannot create directory {target.path.parent}: {exc.strerror}") from None
        engine = create_engine(target.url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off; `_sqlite_begin` emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL + synchronous=NORMAL: a killed process loses nothing committed; only an OS crash
        # could lose the last transactions, never corrupt the file.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA temp_store=MEMORY")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the lock up front, so a read-then-write transaction never fails half way
    # when another process (a `destiler pause` in another terminal) wrote in between.
    immediate = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
