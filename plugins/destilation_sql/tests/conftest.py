"""Fixtures: a store per backend. SQLite always; PostgreSQL when DESTILATION_TEST_DATABASE_URL is set.

Each PostgreSQL test gets a fresh schema (through ``search_path`` in the URL) that is dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from destilation_sql.store import SqlStore
from destilation_sql.urls import parse

# pytest 9 imports test files in importlib mode, which puts no test folder on sys.path; the
# shared builders live next to this file under a name no other distribution's tests use.
sys.path.insert(0, str(Path(__file__).parent))

PG_ENV = "DESTILATION_TEST_DATABASE_URL"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A directory that does not exist yet: the store creates it.
    return f"sqlite:///{tmp_path / 'state' / 'destilation.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(parse(base).url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    """Each backend-agnostic test runs on both databases."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
async def store(url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(url)
    await s.open()
    try:
        yield s
    finally:
        await s.aclose()
