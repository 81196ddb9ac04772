"""Opening a store: URLs, drivers, directories, SQLite settings and the schema version."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from sql_helpers import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoResultFound, OperationalError

from destilation import StoreError
from destilation_sql import schema
from destilation_sql.store import SqlStore, describe
from destilation_sql.urls import mask, parse

pytestmark = pytest.mark.anyio


# --- URLs ------------------------------------------------------------------------------------


def test_a_relative_sqlite_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse("sqlite:///data/state.db")
    assert target.path == tmp_path / "data" / "state.db"
    assert target.url.database == str(tmp_path / "data" / "state.db")
    assert target.url.drivername == "sqlite+pysqlite"
    assert not target.memory


def test_an_absolute_sqlite_path_and_memory_urls() -> None:
    assert parse("sqlite:////var/lib/x.db").path == Path("/var/lib/x.db")
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://"):
        target = parse(url)
        assert target.memory
        assert target.path is None


def test_bare_postgresql_maps_to_psycopg_3() -> None:
    target = parse("postgresql://u:secret@db.example:5432/dest")
    assert target.url.drivername == "postgresql+psycopg"
    assert target.dialect == "postgresql"
    assert target.path is None
    assert not target.memory
    assert target.shown == "postgresql://u:***@db.example:5432/dest"
    assert "secret" not in repr(target)
    assert parse("postgresql+psycopg://h/dest").url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "not a valid store URL"),
        ("postgresql://u:pw@h:notaport/db", "not a valid store URL"),
        ("mysql://u:pw@h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u:pw@h/db", "unsupported driver 'psycopg2'; use postgresql+psycopg://"),
        ("sqlite+aiosqlite:///x.db", "unsupported driver 'aiosqlite'"),
        ("sqlite://u:pw@host/x.db", "a SQLite URL has no host"),
        ("postgresql://u:pw@h", "no database name"),
    ],
)
def test_bad_urls_are_one_line_with_the_password_masked(url: str, problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        SqlStore(url)
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message
    assert "pw" not in message.replace("pw@", "")  # the password never shows
    assert message.startswith(mask(url))


def test_mask_hides_passwords_even_with_at_signs() -> None:
    assert mask("postgresql://me:p@ss@host/db") == "postgresql://me:***@host/db"
    assert mask("postgresql://me@host/db") == "postgresql://me@host/db"
    assert mask("sqlite:///x.db") == "sqlite:///x.db"


# --- opening ---------------------------------------------------------------------------------


async def test_open_creates_the_directory_and_a_wal_database(sqlite_url: str) -> None:
    store = SqlStore(sqlite_url)
    target = parse(sqlite_url)
    assert target.path is not None
    assert not target.path.parent.exists()
    await store.open()
    await store.open()  # a second open is a no-op
    try:
        assert target.path.exists()
        assert sql(store, "PRAGMA journal_mode") == [("wal",)]
        assert sql(store, "PRAGMA synchronous") == [(1,)]  # NORMAL
        assert sql(store, "PRAGMA busy_timeout")[0][0] > 0
    finally:
        await store.aclose()
        await store.aclose()  # closing twice is harmless
    with sqlite3.connect(target.path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(schema.SCHEMA_VERSION),
        )


async def test_a_store_reopens_its_own_database(sqlite_url: str) -> None:
    async with SqlStore(sqlite_url) as first:
        await first.open()
        await first.create_job("kept", {}, 1)
    async with SqlStore(sqlite_url) as second:
        await second.open()
        assert [j.name for j in await second.list_jobs()] == ["kept"]


async def test_an_in_memory_store_works_across_worker_threads() -> None:
    store = SqlStore("sqlite://")
    await store.open()
    try:
        await store.lock_runner("j", "me")  # nothing to lock in memory
        await store.create_job("j", {}, 1)
        assert (await store.get_job("j")) is not None
    finally:
        await store.aclose()


async def test_methods_before_open_say_so() -> None:
    store = SqlStore("sqlite://")
    with pytest.raises(StoreError, match=r"^sqlite://: the store is not open; call open\(\) first$"):
        await store.list_jobs()
    with pytest.raises(StoreError, match="not open"):
        await store.lock_runner("j", "me")


async def test_a_directory_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    store = SqlStore(f"sqlite:///{tmp_path / 'file' / 'sub' / 'x.db'}")
    with pytest.raises(StoreError, match=r"cannot create directory .*/file/sub: Not a directory$"):
        await store.open()


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"this is certainly not a sqlite database" * 100)
    with pytest.raises(StoreError, match=r"x.db: cannot open the database: file is not a database$"):
        await SqlStore(f"sqlite:///{path}").open()


async def test_a_database_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"dir.db: cannot open the database: .*unable to open database file"):
        await SqlStore(f"sqlite:///{tmp_path / 'dir.db'}").open()


async def test_an_unreachable_server_names_the_url_without_the_password() -> None:
    pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")
    store = SqlStore("postgresql://someone:hunter2@127.0.0.1:1/nothing?connect_timeout=3")
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert message.startswith("postgresql://someone:***@127.0.0.1:1/nothing")
    assert "cannot open the database" in message
    assert "hunter2" not in message
    assert "\n" not in message


async def test_a_missing_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(StoreError, match=r"PostgreSQL driver is missing .*install destilation-sql\[postgresql\]$"):
        await SqlStore("postgresql://u:pw@127.0.0.1/db").open()


async def test_an_unknown_user_is_one_line_without_the_password(pg_url: str) -> None:
    url = make_url(pg_url).set(username="nobody_here", password="nobody_here_pw")
    store = SqlStore(url.render_as_string(hide_password=False))
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert "nobody_here_pw" not in message
    assert "cannot open the database" in message
    assert "nobody_here" in message
    assert "\n" not in message


def test_driver_messages_are_folded_to_one_line_and_scrubbed() -> None:
    echoed = OperationalError("SELECT 1", {}, Exception("auth failed\n  for password 'hunter2'\n"))
    assert describe(echoed, ["hunter2"]) == "auth failed for password '***'"
    assert describe(echoed, [None]) == "auth failed for password 'hunter2'"
    assert describe(OperationalError("SELECT 1", {}, Exception())) == "Exception"
    assert describe(NoResultFound("no rows"), ["x"]) == "no rows"


# --- schema version --------------------------------------------------------------------------


async def test_another_schema_version_is_refused_not_migrated(url: str) -> None:
    async with SqlStore(url) as store:
        await store.open()
        sql(store, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError) as caught:
        await SqlStore(url).open()
    message = str(caught.value)
    assert f"has schema version 99; this destilation-sql uses {schema.SCHEMA_VERSION}:" in message
    assert "never migrated silently" in message
    assert "\n" not in message


async def test_a_meta_table_without_a_version_is_refused(url: str) -> None:
    async with SqlStore(url) as store:
        await store.open()
        sql(store, "DELETE FROM meta")
    with pytest.raises(StoreError, match="has schema version none; this destilation-sql uses"):
        await SqlStore(url).open()


async def test_a_foreign_database_with_our_table_names_is_refused(url: str) -> None:
    async with SqlStore(url) as store:
        await store.open()
        sql(store, "DROP TABLE meta")
    with pytest.raises(StoreError, match=r"has tables .*jobs.* but no destilation schema version"):
        await SqlStore(url).open()
