"""Provider health rows and event queries in the SQL store: old databases, batches, indexes, secrets."""

from __future__ import annotations

import math

import pytest
from sql_helpers import JOB, sql
from sqlalchemy import event, select
from sqlalchemy.dialects import sqlite

from destilation import Event, StoreError
from destilation.testing.store_contract import health
from destilation_sql import codec, schema
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def test_an_older_database_gains_the_health_table_and_the_event_indexes(url: str) -> None:
    # What releases before provider health made: no provider_health, events indexed by (job, id) only.
    first = SqlStore(url)
    await first.open()
    await first.create_job(JOB, {}, 1)
    await first.add_events([Event("before", JOB, severity="warning", provider="p")])
    sql(first, "DROP TABLE provider_health")
    sql(first, "DROP INDEX events_job_severity_id")
    sql(first, "DROP INDEX events_job_provider_id")
    await first.aclose()

    store = SqlStore(url)
    await store.open()
    try:
        await store.record_health([health(JOB, "p", "w")])
        assert await store.provider_health(JOB) == [health(JOB, "p", "w")]
        logged = await store.query_events(JOB, severities=["warning"], provider="p")
        assert [e.event.kind for e in logged] == ["before"]
    finally:
        await store.aclose()
    again = SqlStore(url)  # and it opens again as it is now, the rows kept
    await again.open()
    try:
        assert len(await again.provider_health(JOB)) == 1
    finally:
        await again.aclose()


async def test_a_batch_is_one_transaction_and_its_last_row_of_a_key_wins(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 1)
    await store.record_health([health(JOB, "p", "w", requests=1), health(JOB, "p", "w", requests=2)])
    assert [r.requests for r in await store.provider_health(JOB)] == [2]
    # A row that cannot be stored refuses the whole batch: the good row before it is not kept.
    bad = health(JOB, "q", "w", details={"ratio": math.nan})
    with pytest.raises(StoreError, match="health of provider q in job job-a: cannot be stored as JSON"):
        await store.record_health([health(JOB, "p", "w", requests=3), bad])
    assert [(r.provider, r.requests) for r in await store.provider_health(JOB)] == [("p", 2)]


async def test_event_queries_read_through_an_index(sqlite_url: str) -> None:
    store = SqlStore(sqlite_url)
    await store.open()
    engine = store._engine
    assert engine is not None
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if " ".join(statement.split()).startswith("SELECT") and " FROM events " in " ".join(statement.split()) + " ":
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        await store.create_job(JOB, {}, 1)
        await store.add_events([Event("e", JOB, severity="info", provider="p")] * 5)
        for severities, provider, after in (
            (["error"], None, None),
            (None, "p", 3),
            (None, None, 2),
            (None, None, None),
        ):
            seen.clear()
            await store.query_events(JOB, after=after, severities=severities, provider=provider)
            ((statement, parameters),) = seen
            with engine.connect() as conn:
                plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()  # type: ignore[arg-type]
            steps = " | ".join(str(step[-1]) for step in plan)
            assert "USING INDEX events_job" in steps or "USING INTEGER PRIMARY KEY" in steps, steps
            assert not any(str(step[-1]) == "SCAN events" for step in plan), steps
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        await store.aclose()


def test_a_health_row_loses_the_store_urls_secrets_and_any_credential() -> None:
    row = health(JOB, "p", "w", last_error="connect to db failed: password hunter2 refused", details={"token": "abc"})
    stored = codec.health_to_row(row, 5.0, ["hunter2"])
    assert "hunter2" not in stored["last_error"] and "abc" not in stored["details"]
    assert codec.health_to_row(health(JOB, "p", "w", updated_at=0.0), 5.0)["updated_at"] == 5.0


def test_the_upsert_replaces_every_column_but_the_key() -> None:
    from destilation_sql.health import _upsert

    compiled = str(_upsert("sqlite").compile(dialect=sqlite.dialect()))
    assert "ON CONFLICT (job, provider, owner) DO UPDATE SET" in compiled
    replaced = {c.name for c in schema.provider_health.c} - {"job", "provider", "owner"}
    assert all(f"{name} = excluded.{name}" in compiled for name in replaced)
    assert select(schema.provider_health).selected_columns.keys() == [c.name for c in schema.provider_health.c]
