"""The dashboard over the real SQL store: a SQLite file and PostgreSQL, as another machine would see it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from destilation.domain import JobState
from destilation_tui import control
from destilation_tui import dashboard as dash
from destilation_tui.dashboard import Dashboard

from .conftest import fill, screen

pytest.importorskip("destilation_sql", reason="these tests use the SQL store")
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL server (through search_path), dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = os.environ.get("DESTILATION_TEST_DATABASE_URL")
    if not base:
        pytest.skip("DESTILATION_TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_views_and_steering_over_the_sql_store(url: str) -> None:
    writer = SqlStore(url)
    await fill(writer)  # what a running job wrote
    reader = SqlStore(url)  # the dashboard: its own connection, opened without creating anything
    await reader.open(create=False)
    try:
        board = Dashboard(store_url=url)
        await board.tick(reader)
        text = screen(board)
        assert "> qa" in text and "[#####.....]  50%" in text
        assert "no data (no provider health recorded for this job)" in text  # nothing recorded health
        board.view = dash.JOB
        await board.tick(reader)
        text = screen(board)
        # The SQL store keeps attempt totals: 4 accepted on their second attempt, 2 rejected after one.
        assert "attempts 6 · invalid 2 · provider errors 0" in text
        assert "topic = optics" in text
        assert await control.pause(reader, "qa") == "qa: paused"
        record = await writer.get_job("qa")
        assert record is not None and record.state is JobState.PAUSED
    finally:
        await reader.aclose()
        await writer.aclose()
